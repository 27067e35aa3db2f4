// Cost of the prompt stages on the request path, per request, for the example prompts in
// config/prompts with the load test's variables (a 600-character text): `node loadtest/prompt-stages.ts`.
// One process, warm JIT, nothing else running: these are floors. Under load, with the event loop,
// the sockets and the load generator sharing two cores, the same work costs several times more.
import { join } from "node:path";
import semver from "semver";
import { PROMPT_HEADERS } from "./options.ts";
import type { Environment } from "../gateway/registry/environments.ts";
import type { PromptEntry, RegistrySnapshot } from "../gateway/registry/snapshot.ts";
import { createBucketer, createUserHasher } from "../gateway/split/bucket.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import type { ParsedRequest } from "../gateway/proxy/request-schema.ts";
import { upstreamBody } from "../gateway/proxy/upstream-body.ts";
import { buildCatalog } from "../gateway/catalog/catalog.ts";
import { loadPromptDir } from "../gateway/prompts/prompt-file.ts";
import type { PromptSource } from "../gateway/catalog/prompt-source.ts";
import { promptFor, renderInto, requestVariables } from "../gateway/catalog/request-prompt.ts";
import { applyPrompt } from "../gateway/prompts/render-request.ts";
import { resolveVariables } from "../gateway/prompts/variables.ts";
import { createRequestIdCodec } from "../gateway/feedback/request-id.ts";
import { newRecord } from "../gateway/telemetry/request-record.ts";
import { createAggregateWriter } from "../gateway/telemetry/aggregates.ts";
import { parseGatewayConfig } from "../gateway/config/gateway-config.ts";
import { openStore } from "../gateway/store/open-store.ts";

const CALLS = 100_000;
/** The defaults of `limits.json_depth` and `limits.json_members`. */
const JSON_LIMITS = { depth: 128, members: 100_000, containers: 100_000 };
const ROUNDS = 9;

const versions = await loadPromptDir(join(import.meta.dirname, "../config/prompts"));
const byName = new Map<string, PromptEntry>();
for (const name of new Set(versions.map((v) => v.name))) {
  const mine = versions.filter((v) => v.name === name);
  const newest = mine
    .map((v) => v.version)
    .sort(semver.compare)
    .at(-1)!;
  byName.set(name, {
    versions: new Map(mine.map((v) => [v.version, v])),
    labels: new Map<Environment, string>([["prod", newest]]),
    weights: new Map(),
  });
}
const snapshot: RegistrySnapshot = { revision: 1, prompts: byName };
const catalog = buildCatalog(snapshot, null, silentLogger);
const source: PromptSource = {
  bucketer: await createBucketer(),
  userHasher: await createUserHasher(),
  splitStats: { invalidChanges: 0 },
  catalog: () => catalog,
  ready: () => true,
  invalidKeys: () => [],
  health: () => ({ revision: 1, store: "current", behind: null, regressions: 0 }),
  stop: async () => {},
};

// What a prompted request adds for feedback and the experiments: its signed id, and its counts (users,
// weights in force) in the per-version aggregates, which a timer writes to the store every second.
const codec = createRequestIdCodec({ signing: Buffer.alloc(32, 7), previous: [] }, 86_400_000);
const scratch = await openStore({
  redisUrl: undefined,
  statePath: ":memory:",
  prefix: "stages:",
  logger: silentLogger,
});
const aggregates = createAggregateWriter({
  store: scratch,
  logger: silentLogger,
  options: parseGatewayConfig('routes: [{ match: "*", provider: mock }]', {}).aggregates,
});

const varsHeader = PROMPT_HEADERS["x-prompt-vars"]!;
const body = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] };
const req = { endpoint: "chat", body, stream: false, clientWantsUsage: false } as unknown as ParsedRequest;
const raw = Buffer.from(JSON.stringify(body));

/** Median over rounds of µs per call; the sink keeps the work from being optimised away. */
function median(label: string, call: () => unknown): void {
  let sink = 0;
  const times: number[] = [];
  for (let round = 0; round < ROUNDS + 3; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) if (call() !== undefined) sink++;
    if (round >= 3) times.push(Number(process.hrtime.bigint() - start) / CALLS / 1000); // the first rounds warm up the JIT
  }
  times.sort((a, b) => a - b);
  console.log(`  ${label.padEnd(44)} ${(times[Math.floor(times.length / 2)] ?? 0).toFixed(3)} µs  (sink ${sink})`);
}

for (const ref of ["summarization@1.0.0", "summarization@1.1.0", "entity-extraction"]) {
  const served = promptFor(source, ref, "prod", "loadtest-user")!;
  const given = JSON.parse(varsHeader) as Record<string, unknown>;
  // entity-extraction declares only `text`.
  const header = JSON.stringify(
    Object.fromEntries(Object.entries(given).filter(([k]) => Object.hasOwn(served.version.variables, k))),
  );
  const vars = resolveVariables(served.version.variables, JSON.parse(header));
  const rendered = served.compiled.render(vars);
  const merged = applyPrompt("chat", body, served.version, rendered) as typeof body;
  console.log(
    `${ref} (${served.version.name}@${served.version.version}, ${Buffer.byteLength(JSON.stringify(merged))}-byte upstream body)`,
  );
  median("resolve the ref (snapshot, bucket)", () => promptFor(source, ref, "prod", "loadtest-user"));
  median("parse X-Prompt-Vars", () => requestVariables(header, body, JSON_LIMITS));
  median("validate variables, apply defaults", () => resolveVariables(served.version.variables, JSON.parse(header)));
  median("render the templates", () => served.compiled.render(vars));
  median("merge into the request body", () => applyPrompt("chat", body, served.version, rendered));
  median("serialise the upstream body", () => upstreamBody(req, raw, merged, merged.model));
  const claims = { env: "prod", prompt: served.version.name, version: served.version.version, variant: served.variant };
  median("issue the signed request id", () => codec.issue({ ...claims, segment: null, issuedAt: Date.now() }));
  const rec = Object.assign(newRecord(Date.now()), claims, {
    environment: "prod",
    userHash: served.userHash,
    splitShares: served.shares,
  });
  median("count it in the aggregates", () => aggregates.record(rec, 200, Date.now()));
  median("all of the above", () => {
    const s = promptFor(source, ref, "prod", "loadtest-user")!;
    const out = renderInto("chat", body, s, header, JSON_LIMITS);
    codec.issue({ ...claims, segment: null, issuedAt: Date.now() });
    aggregates.record(rec, 200, Date.now());
    return upstreamBody(req, raw, out, out.model);
  });
}
await aggregates.stop();
await scratch.close();
