// `promptgate serve` when start-up fails, as a real process: it exits 1 at once with one line saying what
// to fix, having closed what it opened (store, tracing, refresh timers, aggregate writer); a Redis that is
// down at start is not such a failure (the gateway serves its snapshot on disk); and SIGTERM to the
// `npm start` process stops the gateway too.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { freePort, redisUrl, uniquePrefix } from "./support/redis.ts";
import { killAfterTest, startServe } from "./support/serve-process.ts";

const MOCK_ONLY = 'routes:\n  - { match: "mock/*", provider: mock }\n';
const GREETER =
  "name: greeter\nversion: 1.0.0\nvariables: { who: { type: string, required: true } }\n" +
  "messages: [{ role: system, content: 'Greet {{ who }}.' }]\n";

function configDir(prompts: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "pg-startup-"));
  writeFileSync(join(dir, "gateway.yaml"), MOCK_ONLY + "prompts: { bootstrap_labels: true }\n");
  for (const [file, text] of Object.entries(prompts)) {
    mkdirSync(join(dir, "prompts", file.split("/")[0]!), { recursive: true });
    writeFileSync(join(dir, "prompts", file), text);
  }
  return dir;
}

interface Exit {
  /** The exit code, or "still running" 5 s after the failure was printed. */
  code: number | null | "still running";
  stderr: string;
}

/** Runs `promptgate serve` until it exits on its own, or 5 s after it printed `promptgate serve: ...`. */
function serveUntilExit(env: Record<string, string>): Promise<Exit> {
  const child = spawn(process.execPath, ["gateway/main.ts", "serve"], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", REDIS_URL: "", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  killAfterTest(child);
  let stderr = "";
  return new Promise((resolve) => {
    let deadline: NodeJS.Timeout | undefined;
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      if (deadline === undefined && /^promptgate serve: /m.test(stderr))
        deadline = setTimeout(() => resolve({ code: "still running", stderr }), 5_000);
    });
    child.once("exit", (code) => {
      clearTimeout(deadline);
      resolve({ code, stderr });
    });
  });
}

const lastLine = (text: string): string => text.trimEnd().split("\n").at(-1) ?? "";

describe("promptgate serve start-up failures", () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });
  const takenPort = async (): Promise<number> => {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as AddressInfo).port;
  };

  it("exits 1 at once when its port is taken, naming the port, on the embedded store", async () => {
    const port = await takenPort();
    const dir = configDir({ "greeter/1.0.0.yaml": GREETER });
    const exit = await serveUntilExit({ PORT: String(port), CONFIG_DIR: dir, STATE_PATH: join(dir, "state.db") });
    expect(exit.code).toBe(1);
    expect(lastLine(exit.stderr)).toBe(
      `promptgate serve: port ${port} is already in use (127.0.0.1:${port}): stop what listens there, or set PORT to a free port`,
    );
  });

  it("exits 1 at once when its port is taken, closing its Redis connections and tracing", async () => {
    const port = await takenPort();
    const dir = configDir({ "greeter/1.0.0.yaml": GREETER });
    const collector = await takenPort(); // accepts connections; never asked, as no span is made
    const exit = await serveUntilExit({
      PORT: String(port),
      CONFIG_DIR: dir,
      STATE_PATH: join(dir, "state.db"),
      REDIS_URL: redisUrl(),
      REDIS_PREFIX: uniquePrefix("startup"),
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector}`,
    });
    expect(exit.code).toBe(1);
    expect(lastLine(exit.stderr)).toMatch(new RegExp(`^promptgate serve: port ${port} is already in use`));
  });

  it("exits 1 naming the file when a prompt file is refused, closing its Redis connections", async () => {
    const dir = configDir({
      "broken/1.0.0.yaml": "name: broken\nversion: 1.0.0\nmessages: [{ role: user, content: 7 }]\n",
    });
    const exit = await serveUntilExit({
      CONFIG_DIR: dir,
      STATE_PATH: join(dir, "state.db"),
      REDIS_URL: redisUrl(),
      REDIS_PREFIX: uniquePrefix("startup"),
    });
    expect(exit.code).toBe(1);
    expect(lastLine(exit.stderr)).toMatch(/^promptgate serve: .*broken\/1\.0\.0\.yaml: messages/);
  });

  it("exits 1 naming STATE_PATH when the embedded store cannot be opened", async () => {
    const dir = configDir();
    const exit = await serveUntilExit({ CONFIG_DIR: dir, STATE_PATH: dir }); // a folder, not a file
    expect(exit.code).toBe(1);
    expect(lastLine(exit.stderr)).toBe(
      `promptgate serve: cannot open the embedded store ${dir} (STATE_PATH): unable to open database file`,
    );
  });

  it("exits 1 naming the variable when the environment is invalid", async () => {
    const exit = await serveUntilExit({ CONFIG_DIR: configDir(), PORT: "eighty" });
    expect(exit.code).toBe(1);
    expect(lastLine(exit.stderr)).toMatch(/^promptgate serve: invalid environment: PORT: /);
  });

  it("starts while Redis is down, serving the snapshot on disk, and says which Redis it could not reach", async () => {
    const dir = configDir({ "greeter/1.0.0.yaml": GREETER });
    const statePath = join(dir, "state.db");
    const first = await startServe({ env: { CONFIG_DIR: dir, STATE_PATH: statePath } });
    await vi.waitFor(() => expect(existsSync(join(dir, "registry-snapshot.json"))).toBe(true), { timeout: 5_000 });
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);

    const port = await freePort();
    const second = await startServe({
      env: { CONFIG_DIR: dir, STATE_PATH: statePath, REDIS_URL: `redis://:planted-secret@127.0.0.1:${port}` },
    });
    const res = await fetch(`${second.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-prompt-ref": "greeter", "x-prompt-vars": '{"who": "Ada"}' },
      body: JSON.stringify({ model: "mock/echo" }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-prompt-version")).toBe("1.0.0");
    expect(second.stderr()).toContain(`"redis":"127.0.0.1:${port}"`);
    expect(second.stderr()).not.toContain("planted-secret");
  });
});

describe("promptgate under npm", () => {
  let npm: ChildProcess | undefined;
  afterEach(() => {
    // npm runs in a process group of its own: this also ends a gateway it left behind.
    if (npm?.pid !== undefined) {
      try {
        process.kill(-npm.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  });

  it("stops the gateway when the `npm start` process gets SIGTERM", async () => {
    const dir = configDir();
    const started = spawn("npm", ["start"], {
      env: {
        ...process.env,
        PORT: "0",
        HOST: "127.0.0.1",
        CONFIG_DIR: dir,
        STATE_PATH: join(dir, "state.db"),
        REDIS_URL: "",
      },
      stdio: ["ignore", "ignore", "pipe"],
      detached: true,
    });
    npm = started;
    let stderr = "";
    started.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    // The pipe closes once every process holding it is gone: npm, its shell, and the gateway.
    let allGone = false;
    started.stderr.once("close", () => (allGone = true));
    await vi.waitFor(() => expect(stderr).toMatch(/"url":"http:\/\/127\.0\.0\.1:\d+"/), { timeout: 15_000 });
    const url = /"url":"(http:\/\/[^"]+)"/.exec(stderr)![1]!;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    started.kill("SIGTERM");
    await vi.waitFor(() => expect(allGone).toBe(true), { timeout: 10_000 });
    expect(stderr).toContain('"msg":"stopped"');
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
