#!/usr/bin/env node
// promptgate's entry point: the only module with side effects. Dispatches CLI verbs.
import { runCli } from "./cli/cli.ts";

process.exitCode = await runCli(process.argv.slice(2), process.env);
