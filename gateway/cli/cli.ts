// The `promptgate` command line: a table of verbs, --help from their specs, tables or --json on
// stdout, one line on stderr and a non-zero exit on failure: 2 when the command line is wrong (unknown
// verb or option, missing or extra arguments, a malformed option value), found before any I/O; 1 when
// the operation failed (store unreachable, not found, conflict, invalid prompt file, bad config).
import { parseVerbArgs, UsageError, wantsHelp } from "./args.ts";
import { openContext } from "./context.ts";
import type { CliContext } from "./context.ts";
import { evalVerb } from "./eval-verb.ts";
import { diff, render } from "./inspect-verbs.ts";
import { emit, oneLine, table } from "./output.ts";
import { history, list, push, show } from "./registry-verbs.ts";
import { promote, rollback } from "./release-verbs.ts";
import { restore } from "./restore-verb.ts";
import { rollout } from "./rollout-verb.ts";
import { stats } from "./stats-verb.ts";
import { helpText } from "./verb.ts";
import { packageVersion } from "./version.ts";
import { weights } from "./weights-verb.ts";
import type { Verb } from "./verb.ts";

const serveVerb: Verb = {
  name: "serve",
  summary: "run the gateway (PORT, CONFIG_DIR, REDIS_URL, ... from the environment)",
  usage: "",
  details: `Runs the gateway. Configuration comes from the environment:
  PORT (8080), CONFIG_DIR (./config), REDIS_URL (unset: embedded store at STATE_PATH),
  STATE_PATH (./.promptgate/state.db), REDIS_PREFIX (promptgate:), GATEWAY_ENV (prod),
  ADMIN_TOKEN, LOG_LEVEL (info), DRAIN_TIMEOUT_MS (30000), OTEL_* (OpenTelemetry).
Exits 1 with one line saying what to fix when it cannot start (port in use, invalid environment,
gateway.yaml or prompt file, STATE_PATH unusable). A Redis that is down does not stop it: it
serves the registry snapshot it kept on disk (without one, /readyz fails until Redis answers),
and retries registering the prompt files until Redis answers. Nor does a Redis that lost data
replace what it serves: it keeps its snapshot and says so (see 'promptgate restore --help').
SIGTERM or SIGINT drains open requests and exits 0; started by npm (npm start, npx promptgate
serve), it also stops when npm does.`,
  positionals: { min: 0, max: 0 },
  options: {},
  json: false,
  async run({ env }) {
    // Loaded on demand: the server, providers and telemetry are not needed by the other verbs.
    const { serve } = await import("./serve.ts");
    await serve(env);
  },
};

const evaluatorVerb: Verb = {
  name: "evaluator",
  summary: "judge the gateway's sampled answers live (suites with online:) and record the scores",
  usage: "[--batch N] [--interval-ms MS] [--port 9465] [--once]",
  details: `Runs the live-judging worker. The gateway samples the completed requests of every prompt whose
suite (CONFIG_DIR/evals/<name>.yaml) declares online: { sample, judge, metric } and queues them in
the store; the evaluator takes them (safe with several evaluators: each pair is judged once), judges
each with the suite's judge (a registered prompt, called through CONFIG_DIR's gateway.yaml routing)
as an llm-rubric, and records the score as feedback of that metric on the version that served the
request: 'promptgate stats' shows it. Malformed judge answers are grader errors, never scores. It
uses the same environment as serve (CONFIG_DIR, REDIS_URL or STATE_PATH, REDIS_PREFIX, LOG_LEVEL).
Logs give counts, never what was judged. While it runs it serves /healthz, /readyz (the store
answers) and Prometheus /metrics (judged, grader errors, skipped, expired, the store's queue length)
on --port; --once serves none. SIGTERM or SIGINT finishes the batch in hand, writes the scores and
exits 0.`,
  positionals: { min: 0, max: 0 },
  options: {
    batch: { type: "string", placeholder: "<n>", description: "pairs taken and judged at once (default 8)" },
    "interval-ms": {
      type: "string",
      placeholder: "<ms>",
      description: "how long to wait when the queue is empty (default 1000)",
    },
    once: { type: "boolean", description: "judge what is queued now, then exit" },
    port: {
      type: "string",
      placeholder: "<port>",
      description: "the probes' and metrics' port while it runs (default 9465; none with --once)",
    },
  },
  json: true,
  async run({ args, env, out }) {
    const batch = positiveInt(args.string("batch") ?? "8", "--batch");
    const intervalMs = positiveInt(args.string("interval-ms") ?? "1000", "--interval-ms");
    const once = args.flag("once");
    const portText = args.string("port");
    if (once && portText !== undefined)
      throw new UsageError("--port does not apply with --once (a pass serves no probes)");
    const port = once ? null : portArg(portText ?? "9465");
    const { runEvaluator } = await import("./evaluator.ts");
    const counts = await runEvaluator(env, { batch, intervalMs, once, port });
    emit(out, counts, () =>
      table(
        ["judged", "grader errors", "skipped", "expired"],
        [[counts.judged, counts.graderErrors, counts.skipped, counts.expired]],
      ),
    );
  },
};

const controllerVerb: Verb = {
  name: "controller",
  summary: "run the rollout controller: canary steps, guardrails, rollbacks, alerts (one acts at a time)",
  usage: "[--interval 10s] [--lease 15s] [--port 9464]",
  details: `Runs the rollout controller. Every --interval it looks at each active rollout ('promptgate rollout
start'), reads the current step's traffic from the aggregates, and moves the rollout on: holds,
advances the canary's weight, rolls back when a guardrail fails, promotes at the end, pauses when
there is not enough data or when someone changed the weights by hand (it never overwrites them).
Any number may run: one holds the lease (REDIS_PREFIX controller:lease) and acts, the others
stand by and take over within --lease of the leader's death; every write is fenced on the lease.
It serves /healthz, /readyz (the store answers) and Prometheus /metrics on --port. It uses the
environment of serve: REDIS_URL (else the embedded store at STATE_PATH), REDIS_PREFIX, LOG_LEVEL,
and ALERT_WEBHOOK_URL, where every rollout event is POSTed as JSON. SIGTERM or SIGINT releases
the lease and exits 0.`,
  positionals: { min: 0, max: 0 },
  options: {
    interval: {
      type: "string",
      placeholder: "<duration>",
      description: "how often rollouts are looked at (default 10s)",
    },
    lease: {
      type: "string",
      placeholder: "<duration>",
      description: "the lease's time to live: a dead leader is replaced within it (default 15s)",
    },
    port: { type: "string", placeholder: "<port>", description: "the probes' and metrics' port (default 9464)" },
  },
  json: false,
  async run({ args, env }) {
    const intervalMs = durationArg(args.string("interval") ?? "10s", "--interval");
    const leaseMs = durationArg(args.string("lease") ?? "15s", "--lease");
    if (leaseMs <= intervalMs)
      throw new UsageError(
        `--lease (${leaseMs} ms) must be longer than --interval (${intervalMs} ms): it is renewed each interval`,
      );
    const port = portArg(args.string("port") ?? "9464");
    const { runController } = await import("./controller.ts");
    await runController(env, { intervalMs, leaseMs, port });
  },
};

/** `250ms`, `10s`, `1.5m`, `1h` in ms (a whole number of ms, at least 10 ms); a usage error otherwise. */
export function durationArg(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
  const ms = m ? Math.round(Number(m[1]) * unit[m[2] as keyof typeof unit]) : NaN;
  if (!(ms >= 10 && ms <= 24 * 3_600_000))
    throw new UsageError(`${flag} expects a duration such as 500ms, 10s or 1m (10ms to 24h), got "${text}"`);
  return ms;
}

/** --port: 0 (any free one) to 65535; a usage error otherwise. */
function portArg(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) throw new UsageError(`--port expects a port number, got "${text}"`);
  return port;
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > 1_000_000)
    throw new UsageError(`${flag} expects a positive integer, got "${text}"`);
  return n;
}

export const VERBS: readonly Verb[] = [
  serveVerb,
  controllerVerb,
  evaluatorVerb,
  push,
  list,
  show,
  diff,
  render,
  promote,
  rollback,
  history,
  weights,
  evalVerb,
  stats,
  rollout,
  restore,
];

function usage(): string {
  const width = Math.max(...VERBS.map((v) => v.name.length));
  const verbs = VERBS.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`).join("\n");
  return `promptgate: an LLM gateway that versions, rolls out and measures prompts

Usage: promptgate <verb> [options]
       promptgate --version (or -V)

Verbs:
${verbs}

The registry verbs use the same store as the gateway: Redis when REDIS_URL is set, else the
embedded file at STATE_PATH. Run 'promptgate <verb> --help' for a verb's options.

Exit status: 0 done, 1 the operation failed (store unreachable, not found, refused, invalid
prompt file, bad configuration), 2 the command line is wrong (see the verb's --help); eval: 1 a
threshold or the gate failed, 3 the run could not be completed.
`;
}

/** Where the CLI writes: the process's stdout and stderr, or a test's buffers. */
export interface CliStreams {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const processStreams: CliStreams = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};

/**
 * Runs one command line; resolves to the exit code (0, 1: the operation failed, 2: usage; `eval` also
 * exits 1 when its suite or gate fails, and 3 when the run could not be completed).
 */
export async function runCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: CliStreams = processStreams,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--help" || name === "-h" || (name === "help" && rest.length === 0)) {
    io.stdout(usage());
    return 0;
  }
  if (name === "--version" || name === "-V") {
    io.stdout(`${await packageVersion()}\n`);
    return 0;
  }
  if (name === undefined) {
    io.stderr(usage());
    return 2;
  }
  const topic = name === "help" ? rest[0] : undefined;
  const verb = VERBS.find((v) => v.name === (topic ?? name));
  if (verb === undefined) {
    io.stderr(
      name.startsWith("-")
        ? `promptgate: unknown option "${name}" (options go after the verb; run 'promptgate --help')\n`
        : `promptgate: unknown verb "${topic ?? name}" (run 'promptgate --help' for the list)\n`,
    );
    return 2;
  }
  if (topic !== undefined || wantsHelp(rest)) {
    io.stdout(helpText(verb));
    return 0;
  }

  const opened: { context?: Promise<CliContext> } = {};
  try {
    const args = parseVerbArgs(verb, rest);
    const code = await verb.run({
      args,
      env,
      out: { json: args.json, write: io.stdout },
      context: () => (opened.context ??= openContext(env)),
      stderr: io.stderr,
      stderrIsTTY: io === processStreams && process.stderr.isTTY,
    });
    return code ?? 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof UsageError) {
      io.stderr(`promptgate ${verb.name}: ${message} (see 'promptgate ${verb.name} --help')\n`);
      return 2;
    }
    // When the store went away mid-command, ioredis' words ("Connection is closed.", "Reached the max
    // retries per request limit") say less than naming the store does.
    const lost = await opened.context?.then((c) => c.lostStore()).catch(() => null);
    io.stderr(`promptgate ${verb.name}: ${lost ?? oneLine(message)}\n`);
    return verb.failureCode ?? 1;
  } finally {
    // Closing the store (Redis sockets, the SQLite handle) is what lets the process exit at once.
    await opened.context?.then((c) => c.close()).catch(() => undefined);
  }
}
