// Command-line options of `npm run soak`, parsed and validated once, with messages that say what to fix.
import { parseArgs } from "node:util";
import { num } from "./options.ts";

export interface SoakOptions {
  /** Streams of the soak itself (the warm-up comes on top). */
  readonly streams: number;
  /** Streams in flight at once. */
  readonly concurrency: number;
  /** Share of streams the client leaves mid-stream, at a random point. */
  readonly abortShare: number;
  /** Share of streams whose provider resets its socket mid-stream, at a random point. */
  readonly resetShare: number;
  /** Content events per stream, one every `gapMs`. */
  readonly events: number;
  readonly gapMs: number;
  /** Streams run, in the same mix, before the baseline is read (lazy start-up work is not a leak). */
  readonly warmup: number;
  /** No stream starts after this many seconds of soak; those in flight finish. */
  readonly maxSeconds: number;
  /** The longest wait for the gateway's sockets to come back to the idle baseline. */
  readonly settleSeconds: number;
  /** One stream that takes longer than this fails and is closed. */
  readonly streamTimeoutSeconds: number;
  /** Sockets, handles, descriptors and heap may end at most this share above the baseline. */
  readonly tolerance: number;
  /** Seeds the plan (which stream aborts or resets, and where), so a run can be repeated. */
  readonly seed: number;
  readonly json: boolean;
  readonly help: boolean;
}

export const SOAK_HELP = `npm run soak -- [options]

Runs a gateway (with --inspect on 127.0.0.1, to force a GC before each reading), a fake provider and
a client, all on 127.0.0.1, and sends streams through the gateway: some complete, some the client
leaves mid-stream, some the provider resets mid-stream. Before and after (once the gateway's sockets
are back to idle) it reads the gateway's descriptors and sockets from /proc and its handles and heap
from /metrics, and checks they are back to the baseline, and that every stream ended as it should,
for the client and in the gateway's own metrics. Exit 0 when all holds, 1 otherwise. Linux only.

  --streams N          streams of the soak (20000)
  --concurrency N      streams in flight at once (50)
  --abort-share F      share of streams the client leaves mid-stream (0.3)
  --reset-share F      share of streams the provider resets mid-stream (0.1)
  --events N           content events per stream (10)
  --gap-ms MS          milliseconds between two events (5)
  --warmup N           streams before the baseline, in the same mix (500)
  --max-seconds S      no stream starts after S seconds of soak (600)
  --settle-seconds S   longest wait for the gateway's sockets to come back to idle (60)
  --stream-timeout S   a stream that takes longer fails (30)
  --tolerance F        resources may end this share above the baseline (0.1)
  --seed N             seed of the plan (1)
  --json               print the results as JSON instead of tables
  --help`;

export function parseSoakOptions(argv: readonly string[]): SoakOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      streams: { type: "string" },
      concurrency: { type: "string" },
      "abort-share": { type: "string" },
      "reset-share": { type: "string" },
      events: { type: "string" },
      "gap-ms": { type: "string" },
      warmup: { type: "string" },
      "max-seconds": { type: "string" },
      "settle-seconds": { type: "string" },
      "stream-timeout": { type: "string" },
      tolerance: { type: "string" },
      seed: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}" (see --help)`);
  const abortShare = num("abort-share", values["abort-share"], 0.3, 0, 1, false);
  const resetShare = num("reset-share", values["reset-share"], 0.1, 0, 1, false);
  if (abortShare + resetShare > 1)
    throw new Error(`--abort-share and --reset-share add up to more than 1 (${abortShare} + ${resetShare})`);
  const events = num("events", values.events, 10, 1, 90, true);
  const gapMs = num("gap-ms", values["gap-ms"], 5, 0, 1000, true);
  const streamTimeoutSeconds = num("stream-timeout", values["stream-timeout"], 30, 1, 600, false);
  // A stream's own pacing must fit in its timeout with room to spare, or every stream would fail.
  if (((events + 1) * gapMs) / 1000 > streamTimeoutSeconds / 2)
    throw new Error(
      `--events ${events} at --gap-ms ${gapMs} take ${((events + 1) * gapMs) / 1000} s, more than half of --stream-timeout ${streamTimeoutSeconds}`,
    );
  return {
    streams: num("streams", values.streams, 20_000, 1, 10_000_000, true),
    concurrency: num("concurrency", values.concurrency, 50, 1, 1000, true),
    abortShare,
    resetShare,
    // The gateway keeps at most 100 model labels; a run uses events + 2 of them (done, hold, reset-0...).
    events,
    gapMs,
    warmup: num("warmup", values.warmup, 500, 0, 1_000_000, true),
    maxSeconds: num("max-seconds", values["max-seconds"], 600, 1, 86_400, false),
    settleSeconds: num("settle-seconds", values["settle-seconds"], 60, 1, 3600, false),
    streamTimeoutSeconds,
    tolerance: num("tolerance", values.tolerance, 0.1, 0, 10, false),
    seed: num("seed", values.seed, 1, 0, 2 ** 32 - 1, true),
    json: values.json ?? false,
    help: values.help ?? false,
  };
}
