// `promptgate serve` as a real child process with its own CONFIG_DIR, killed after each test.
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
  stderr: () => string;
}

export interface ServeOptions {
  env?: Record<string, string>;
  /** gateway.yaml text; default: the mock provider only. */
  yaml?: string;
  /** Copy config/prompts into CONFIG_DIR. */
  prompts?: boolean;
  /** pricing.yaml text. */
  pricing?: string;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

/** Tracks a child this module did not spawn, so it is killed after the test too. */
export const killAfterTest = (child: ChildProcess): void => void children.push(child);

export async function startServe(opts: ServeOptions = {}): Promise<ServeProcess> {
  const dir = mkdtempSync(join(tmpdir(), "pg-serve-"));
  writeFileSync(join(dir, "gateway.yaml"), opts.yaml ?? 'routes:\n  - { match: "mock/*", provider: mock }\n');
  if (opts.pricing !== undefined) writeFileSync(join(dir, "pricing.yaml"), opts.pricing);
  if (opts.prompts) cpSync("config/prompts", join(dir, "prompts"), { recursive: true });
  const child = spawn(process.execPath, ["gateway/main.ts", "serve"], {
    env: {
      ...process.env,
      PORT: "0",
      HOST: "127.0.0.1",
      CONFIG_DIR: dir,
      STATE_PATH: join(dir, "state.db"),
      REDIS_URL: "",
      ...opts.env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(child);
  return { child, ...(await announcedUrl(child, "gateway")) };
}

/**
 * Waits for a child's log line that names the URL it listens on (`"url":"http://..."`, on stderr), keeping all it
 * writes there; rejects when it exits first or says nothing of the kind within 10 s.
 */
export async function announcedUrl(
  child: ChildProcess,
  what: string,
): Promise<{ url: string; exited: Promise<number | null>; stderr: () => string }> {
  let err = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${err}`)), 10_000);
    child.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
      const m = /"url":"(http:\/\/[^"]+)"/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`${what} exited with ${code}:\n${err}`)));
  });
  return { url, exited, stderr: () => err };
}
