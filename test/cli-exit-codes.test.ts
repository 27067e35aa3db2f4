// The CLI's exit codes, verb by verb: 2 for every usage error (found before any I/O), 1 for every failed
// operation (store unreachable, not found, conflict, invalid input to the registry), one line on stderr.
// Runs runCli in-process (what main.ts runs) for speed; cli.test.ts covers the same through real processes.
import { readFileSync } from "node:fs";
import { createServer, createConnection, type AddressInfo, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, VERBS } from "../gateway/cli/cli.ts";
import { cli, cliWorkspace } from "./support/cli.ts";
import { freePort, redisUrl } from "./support/redis.ts";

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: readonly string[], env: Record<string, string>): Promise<Outcome> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(
    argv,
    { ...process.env, ...env },
    { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) },
  );
  return { code, stdout, stderr };
}

const GREETER = (version: string, greeting: string): string =>
  `name: greeter\nversion: ${version}\nvariables: { who: { type: string, required: true } }\n` +
  `messages: [{ role: system, content: '${greeting} {{ who }}.' }]\n`;

/** A CONFIG_DIR with greeter 1.0.0 and 1.1.0, and a store of its own. */
function workspace(): Record<string, string> {
  const { dir, env } = cliWorkspace({
    "config/gateway.yaml": 'routes:\n  - { match: "mock/*", provider: mock }\n',
    "config/prompts/greeter/1.0.0.yaml": GREETER("1.0.0", "Hello"),
    "config/prompts/greeter/1.1.0.yaml": GREETER("1.1.0", "Hi"),
    "broken/typo/1.0.0.yaml": "name: typo\nversion: 1.0.0\nmessages: 7\n",
  });
  return { ...env, BROKEN_DIR: join(dir, "broken") };
}

const P = "greeter";

/** Command lines each verb must refuse as usage errors (exit 2), without touching the store. */
const USAGE: Record<string, readonly (readonly string[])[]> = {
  serve: [
    ["serve", "now"],
    ["serve", "--json"],
    ["serve", "--port", "80"],
  ],
  push: [
    ["push", "a", "b"],
    ["push", "--bogus"],
    ["push", "--actor"],
    ["push", "--actor", " "],
  ],
  list: [
    ["list", "extra"],
    ["list", "--bogus"],
    ["list", "--json=yes"],
  ],
  show: [["show"], ["show", P, P], ["show", P, "--vars", "{}"]],
  diff: [
    ["diff", P, "1.0.0"],
    ["diff", P, "1.0.0", "1.1.0", "1.2.0"],
    ["diff", "--to", "prod", P, "1.0.0", "1.1.0"],
  ],
  render: [
    ["render"],
    ["render", P, "extra"],
    ["render", P, "--vars", "{"],
    ["render", P, "--vars", "[1]"],
    ["render", P, "--vars"],
  ],
  promote: [
    ["promote", P, "--to", "prod", "--approved-by", "a"],
    ["promote", P, "1.0.0", "--approved-by", "a"],
    ["promote", P, "1.0.0", "--to", "qa", "--approved-by", "a"],
    ["promote", P, "1.0.0", "--to", "prod"],
    ["promote", P, "1.0.0", "--to", "prod", "--approved-by", " "],
    ["promote", P, "1.0.0", "--to", "prod", "--approved-by", "a", "--force=yes"],
  ],
  rollback: [
    ["rollback", "--env", "prod"],
    ["rollback", P],
    ["rollback", P, "--env", "qa"],
    ["rollback", P, "--env", "prod", "--actor", ""],
    ["rollback", P, "--to", "prod"],
  ],
  history: [["history"], ["history", P, "1.0.0"], ["history", P, "--env", "prod"]],
  weights: [
    ["weights", P],
    ["weights", P, "--env", "canary"],
    ["weights", P, "--env", "prod", "--set", "1.0.0=ninety"],
    ["weights", P, "--env", "prod", "--set", ""],
    ["weights", P, "--env", "prod", "--set", "1.0.0=50,1.0.0=50"],
    ["weights", P, "--env", "prod", "--set", "1.0.0=100", "--clear"],
    ["weights", P, "--env", "prod", "--clear", "--actor", ""],
  ],
  stats: [
    ["stats", P],
    ["stats", P, "--env", "qa"],
    ["stats", P, "--env", "prod", "--since", "2w"],
    ["stats", P, "--env", "prod", "--since", "0m"],
    ["stats", P, "--env", "prod", "--since", "400d"],
    ["stats", P, "--env", "prod", "--by", "version"],
    ["stats", P, "--env", "prod", "--metric", ""],
  ],
  eval: [
    ["eval"],
    ["eval", P, "extra"],
    ["eval", P, "--concurrency", "0"],
    ["eval", P, "--concurrency", "65"],
    ["eval", P, "--repeat", "two"],
    ["eval", P, "--repeat", "2", "--min-pass", "3"],
    ["eval", P, "--max-cost-usd", "-1"],
    ["eval", P, "--max-cost-usd", "free"],
    ["eval", P, "--timeout-ms", "1.5"],
    ["eval", P, "--output", "report.txt"],
    ["eval", P, "--baseline", `${P}@1.0.0`],
    ["eval", P, "--suite", ""],
    ["eval", P, "--actor", ""],
  ],
  controller: [
    ["controller", "extra"],
    ["controller", "--json"],
    ["controller", "--interval", "0"],
    ["controller", "--interval", "10"],
    ["controller", "--interval", "1s", "--lease", "1s"],
    ["controller", "--port", "x"],
    ["controller", "--port", "70000"],
  ],
  evaluator: [
    ["evaluator", "extra"],
    ["evaluator", "--batch", "0"],
    ["evaluator", "--batch", "x"],
    ["evaluator", "--interval-ms", "0"],
    ["evaluator", "--json", "--once", "now"],
  ],
  rollout: [
    ["rollout"],
    ["rollout", "begin", P],
    ["rollout", "start", P, "--env", "prod"],
    ["rollout", "status", P],
    ["rollout", "start", P, "1.1.0", "--env", "prod", "--hold", "30"],
    ["rollout", "start", P, "1.1.0", "--env", "prod", "--steps", "5;25"],
    ["rollout", "pause", P, "--env", "prod", "--steps", "5"],
    ["rollout", "list", "--env", "canary"],
  ],
  restore: [
    ["restore"],
    ["restore", "extra", "--from-files", "config/prompts"],
    ["restore", "--from-snapshot", "a.json", "--from-files", "config/prompts"],
    ["restore", "--from-files", "config/prompts", "--force"],
    ["restore", "--from-snapshot"],
  ],
};

/** The exit code of a failed operation where it is not 1: eval's 3, "the run could not be completed". */
const FAILURE_CODE: Readonly<Record<string, number>> = { eval: 3 };

/** For each verb, an operation that fails on a store holding greeter 1.0.0 and 1.1.0, and the error. */
const FAILED: Record<string, { argv: readonly string[]; env?: Record<string, string>; error: RegExp }> = {
  serve: {
    argv: ["serve"],
    env: { CONFIG_DIR: "{dir}/nowhere" },
    error: /^promptgate serve: .*nowhere\/gateway\.yaml: cannot read \(ENOENT\); set CONFIG_DIR/,
  },
  controller: {
    argv: ["controller", "--port", "0"],
    env: { STATE_PATH: "{dir}" },
    error: /^promptgate controller: cannot open the embedded store /,
  },
  evaluator: {
    argv: ["evaluator", "--once"],
    env: { CONFIG_DIR: "{dir}/nowhere" },
    error: /^promptgate evaluator: .*nowhere\/gateway\.yaml: cannot read \(ENOENT\); set CONFIG_DIR/,
  },
  push: { argv: ["push", "{broken}"], error: /^promptgate push: .*typo\/1\.0\.0\.yaml: messages/ },
  list: { argv: ["list"], env: { STATE_PATH: "{dir}" }, error: /^promptgate list: cannot open the embedded store / },
  show: { argv: ["show", "nosuch"], error: /^promptgate show: unknown prompt "nosuch"/ },
  diff: {
    argv: ["diff", P, "1.0.0", "9.9.9"],
    error: /^promptgate diff: prompt greeter has no registered version 9\.9\.9/,
  },
  render: { argv: ["render", `${P}@1.1.0`], error: /^promptgate render: .*who/ },
  promote: {
    argv: ["promote", P, "1.1.0", "--to", "prod", "--approved-by", "a"],
    error: /^promptgate promote: .*never been on staging/,
  },
  rollback: { argv: ["rollback", P, "--env", "dev"], error: /^promptgate rollback: greeter has no dev label/ },
  history: { argv: ["history", "nosuch"], error: /^promptgate history: unknown prompt "nosuch"/ },
  weights: {
    argv: ["weights", P, "--env", "staging", "--set", "1.0.0=90,7.7.7=10"],
    error: /^promptgate weights: .*7\.7\.7/,
  },
  stats: { argv: ["stats", "nosuch", "--env", "prod"], error: /^promptgate stats: no prompt named nosuch/ },
  eval: {
    argv: ["eval", `${P}@1.1.0`, "--model", "mock/echo"],
    error: /^promptgate eval: .*evals\/greeter\.yaml: cannot read the suite \(ENOENT\)/,
  },
  rollout: {
    argv: ["rollout", "start", P, "1.1.0", "--env", "prod"],
    error: /^promptgate rollout: greeter has no prod label/,
  },
  restore: {
    argv: ["restore", "--from-snapshot", "{dir}/nowhere.json"],
    error: /^promptgate restore: cannot read the snapshot file .*nowhere\.json: ENOENT/,
  },
};

/** A valid command line per verb that opens the store (serve opens it too, but only after its config). */
const VALID: Record<string, readonly string[]> = {
  push: ["push"],
  evaluator: ["evaluator", "--once"],
  list: ["list"],
  show: ["show", P],
  diff: ["diff", P, "1.0.0", "1.1.0"],
  render: ["render", `${P}@1.0.0`, "--vars", '{"who": "x"}'],
  promote: ["promote", P, "1.0.0", "--to", "dev", "--approved-by", "a"],
  rollback: ["rollback", P, "--env", "prod"],
  history: ["history", P],
  weights: ["weights", P, "--env", "prod"],
  stats: ["stats", P, "--env", "prod"],
  eval: ["eval", `${P}@1.0.0`, "--model", "mock/echo"],
  rollout: ["rollout", "list"],
  restore: ["restore", "--from-files", "config/prompts"],
};

describe("promptgate exit codes", () => {
  const env = workspace();
  const dir = join(env["CONFIG_DIR"]!, "..");
  const fill = (argv: readonly string[]): string[] =>
    argv.map((a) => a.replace("{broken}", env["BROKEN_DIR"]!).replace("{dir}", dir));

  beforeAll(async () => {
    for (const argv of [["push"], ["promote", P, "1.0.0", "--to", "staging", "--approved-by", "a"]]) {
      expect(await run(argv, env)).toMatchObject({ code: 0, stderr: "" });
    }
  });

  it("has a row for every verb in every table", () => {
    const names = VERBS.map((v) => v.name).sort();
    expect(Object.keys(USAGE).sort()).toEqual(names);
    expect(Object.keys(FAILED).sort()).toEqual(names);
    // The long-running verbs wait for a store that is down (serve: its snapshot; controller: standing by).
    expect(Object.keys(VALID).sort()).toEqual(names.filter((n) => n !== "serve" && n !== "controller"));
  });

  it("exits 2 on every usage error, with one line that points at the verb's --help", async () => {
    // A store that cannot be opened: a usage error must be found before any I/O.
    const noStore = { ...env, STATE_PATH: dir };
    for (const [verb, lines] of Object.entries(USAGE)) {
      for (const argv of lines) {
        const r = await run(argv, noStore);
        expect({ argv, code: r.code, stdout: r.stdout }).toEqual({ argv, code: 2, stdout: "" });
        expect(r.stderr).toMatch(new RegExp(`^promptgate ${verb}: [^\\n]+ \\(see 'promptgate ${verb} --help'\\)\\n$`));
      }
    }
  });

  it("names what is wrong in a usage error", async () => {
    const cases: [readonly string[], string][] = [
      [["stats", P, "--env", "prod", "--since", "2w"], '--since must be a duration such as 30m, 6h or 7d, got "2w"'],
      [["stats", P, "--env", "qa"], '--env must be one of dev, staging, prod, pinned, got "qa"'],
      [["rollback", P, "--env", "prod", "--actor", ""], "--actor must not be empty"],
      [["weights", P, "--env", "prod", "--set", "1.0.0=ninety"], '--set: "1.0.0=ninety" is not version=weight'],
      [["show"], "missing arguments: expected <ref>"],
      [["history", P, "1.0.0"], 'unexpected argument "1.0.0"'],
      [["list", "--bogus"], "Unknown option '--bogus'"],
    ];
    for (const [argv, message] of cases) expect((await run(argv, env)).stderr).toContain(message);
  });

  it("exits 2 on an unknown verb, an option before the verb, or nothing at all", async () => {
    for (const argv of [["nope"], ["--bogus"], ["--json", "list"], ["help", "nope"], []]) {
      const r = await run(argv, env);
      expect({ argv, code: r.code, stdout: r.stdout }).toEqual({ argv, code: 2, stdout: "" });
    }
    expect((await run(["--json", "list"], env)).stderr).toBe(
      "promptgate: unknown option \"--json\" (options go after the verb; run 'promptgate --help')\n",
    );
  });

  it("exits 1 (eval: 3) when the operation fails, for every verb, with one line saying why", async () => {
    for (const [verb, { argv, env: extra, error }] of Object.entries(FAILED)) {
      const filled = Object.fromEntries(Object.entries(extra ?? {}).map(([k, v]) => [k, fill([v])[0]!]));
      const r = await run(fill(argv), { ...env, ...filled });
      expect({ verb, code: r.code }).toEqual({ verb, code: FAILURE_CODE[verb] ?? 1 });
      expect(r.stderr).toMatch(error);
      expect(r.stderr.split("\n")).toHaveLength(2); // one line, then the final newline
    }
  });

  it("exits 1 (eval: 3) naming REDIS_URL's host:port, never its password, for every verb when Redis is down", async () => {
    const port = await freePort();
    const down = { ...env, REDIS_URL: `redis://:planted-secret@127.0.0.1:${port}` };
    for (const [verb, argv] of Object.entries(VALID)) {
      const t0 = performance.now();
      const r = await run(argv, down);
      expect({ verb, code: r.code, stderr: r.stderr }).toEqual({
        verb,
        code: FAILURE_CODE[verb] ?? 1,
        stderr: `promptgate ${verb}: cannot reach Redis at 127.0.0.1:${port} (REDIS_URL): connection refused (is Redis running, and on that port?)\n`,
      });
      expect(performance.now() - t0).toBeLessThan(3_000);
    }
  });

  it("prints the package version for --version and -V", async () => {
    const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    for (const flag of ["--version", "-V"])
      expect(await run([flag], env)).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });
});

describe("promptgate when Redis does not answer", () => {
  const held: Socket[] = [];
  let silent: Server;
  beforeAll(async () => {
    silent = createServer((socket) => void held.push(socket)); // accepts, never replies
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => {
    for (const s of held) s.destroy();
    silent.close();
  });

  it("exits 1 within a few seconds as a real process, naming host:port and not the password", async () => {
    const { port } = silent.address() as AddressInfo;
    const t0 = performance.now();
    const r = await cli(["list"], { ...workspace(), REDIS_URL: `redis://:planted-secret@127.0.0.1:${port}` });
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr: `promptgate list: cannot reach Redis at 127.0.0.1:${port} (REDIS_URL): connected, but no answer (is that Redis?)\n`,
    });
    expect(performance.now() - t0).toBeLessThan(6_000);
  });

  it("names Redis when the connection is lost in the middle of a command", async () => {
    // A proxy to the test Redis that cuts the connection at the first SCAN (that list sends), then refuses reconnects.
    const target = new URL(redisUrl());
    const sockets: Socket[] = [];
    const proxy = createServer((client) => {
      const upstream = createConnection(Number(target.port || 6379), target.hostname);
      sockets.push(client, upstream);
      upstream.on("error", () => client.destroy());
      client.on("error", () => upstream.destroy());
      upstream.pipe(client);
      client.on("data", (chunk: Buffer) => {
        if (chunk.toString("latin1").toLowerCase().includes("scan")) {
          proxy.close();
          for (const s of sockets) s.destroy();
        } else upstream.write(chunk);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const { port } = proxy.address() as AddressInfo;
    try {
      const r = await run(["list"], {
        ...workspace(),
        REDIS_URL: `redis://127.0.0.1:${port}`,
        REDIS_PREFIX: "pgtest:lost:",
      });
      expect(r).toEqual({
        code: 1,
        stdout: "",
        stderr: `promptgate list: lost the connection to Redis at 127.0.0.1:${port} (REDIS_URL) during the command\n`,
      });
    } finally {
      proxy.close();
      for (const s of sockets) s.destroy();
    }
  });
});
