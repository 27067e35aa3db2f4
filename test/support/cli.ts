// Runs the real `promptgate` CLI as a child process, as a user would, in a workspace of its own.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args`, collecting what it prints. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export function cli(args: readonly string[], env: Record<string, string>): Promise<Run> {
  return runProcess(process.execPath, ["gateway/main.ts", ...args], { env: { ...process.env, ...env } });
}

/**
 * A fresh folder with `files` (paths relative to it, e.g. `config/prompts/x/1.0.0.yaml`) and the
 * environment that points the CLI at its config and an embedded store of its own.
 */
export function cliWorkspace(files: Readonly<Record<string, string>>): { dir: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), "pg-cli-"));
  mkdirSync(join(dir, "config", "prompts"), { recursive: true });
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  const env = {
    CONFIG_DIR: join(dir, "config"),
    STATE_PATH: join(dir, "state.db"),
    REDIS_URL: "",
    REDIS_PREFIX: "",
    GATEWAY_ENV: "prod",
    LOG_LEVEL: "",
    USER: "tester",
  };
  return { dir, env };
}
