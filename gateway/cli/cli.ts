// The `promptgate` command line: verbs, --help, and non-zero exits on failure.
import { ConfigError } from "../config/gateway-config.ts";
import { serve } from "./serve.ts";

const USAGE = `promptgate: an LLM gateway that versions, rolls out and measures prompts

Usage: promptgate <verb> [options]

Verbs:
  serve        run the gateway (PORT, CONFIG_DIR, REDIS_URL, ... from the environment)

Run 'promptgate <verb> --help' for a verb's options.`;

const SERVE_HELP = `Usage: promptgate serve

Runs the gateway. Configuration comes from the environment:
  PORT (8080), CONFIG_DIR (./config), REDIS_URL (unset: embedded store at STATE_PATH),
  STATE_PATH (./.promptgate/state.db), REDIS_PREFIX (promptgate:), GATEWAY_ENV (prod),
  ADMIN_TOKEN, LOG_LEVEL (info), DRAIN_TIMEOUT_MS (30000), OTEL_* (OpenTelemetry).`;

export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === "--help" || verb === "-h" || verb === "help") {
    process.stdout.write(USAGE + "\n");
    return verb === undefined ? 1 : 0;
  }
  try {
    switch (verb) {
      case "serve":
        if (rest.includes("--help") || rest.includes("-h")) {
          process.stdout.write(SERVE_HELP + "\n");
          return 0;
        }
        await serve(env);
        return 0;
      default:
        process.stderr.write(`promptgate: unknown verb "${verb}"\n\n${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
    process.stderr.write(`promptgate ${verb}: ${message}\n`);
    return 1;
  }
}
