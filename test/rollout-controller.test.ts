// The rollout controller end to end, as real processes on one Redis: `promptgate serve` answering traffic from
// distinct users through the mock provider, `promptgate controller` moving the rollout, a webhook receiver on
// port 0. Short holds and a 200 ms interval; every wait is on observable state.
import { Redis } from "ioredis";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parsePromptFile } from "../gateway/prompts/prompt-file.ts";
import { readHistory } from "../gateway/registry/audit.ts";
import { createRegistry, type Registry } from "../gateway/registry/registry.ts";
import { parseRollout, type RolloutRecord } from "../gateway/rollouts/record.ts";
import { createRolloutService, type StartRollout } from "../gateway/rollouts/rollout-service.ts";
import { CONTROLLER_LEASE, rolloutKey, weightsKey } from "../gateway/store/keys.ts";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import type { Store } from "../gateway/store/store.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { startController, startWebhookReceiver, type WebhookReceiver } from "./support/controller-process.ts";
import { freePort, redisUrl, uniquePrefix } from "./support/redis.ts";
import { cli } from "./support/cli.ts";
import { startServe } from "./support/serve-process.ts";
import { newUsersTraffic, type Traffic } from "./support/traffic.ts";

const NAME = "greet";
const STABLE = "1.0.0";
const FAILING = "1.1.0"; // model: mock/fail-30
const HEALTHY = "1.2.0";
const MODELS: Record<string, string> = { [STABLE]: "mock/echo", [FAILING]: "mock/fail-30", [HEALTHY]: "mock/echo" };
const FAST = ["--interval", "200ms", "--lease", "2s"];

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Rig {
  readonly prefix: string;
  readonly store: Store;
  readonly registry: Registry;
  readonly gateway: string;
  readonly webhook: WebhookReceiver;
  /** The controller's environment: this rig's Redis prefix and webhook. */
  readonly env: Record<string, string>;
  /** Like redis-cli: a plain client, keys written with the prefix by hand. */
  readonly cli: Redis;
  start(version: string, opts?: Partial<StartRollout>): Promise<RolloutRecord>;
  record(): Promise<RolloutRecord>;
}

async function rig(): Promise<Rig> {
  const prefix = uniquePrefix("rollout-e2e");
  const store = await createRedisStore({ url: redisUrl(), prefix, logger: silentLogger });
  cleanups.push(async () => {
    for (const key of await store.keys("")) await store.del(key);
    await store.close();
  });
  const registry = createRegistry(store, systemClock);
  for (const version of [STABLE, FAILING, HEALTHY]) {
    const text = `name: ${NAME}\nversion: ${version}\nmodel: ${MODELS[version]}\nvariables: {}\nmessages:\n  - { role: system, content: "greeting v${version}" }\n`;
    await registry.register(parsePromptFile(text, `${NAME}/${version}.yaml`), "test");
  }
  // prod takes a version that was on staging: the canaries went there first, as a pipeline would.
  for (const version of [FAILING, HEALTHY, STABLE])
    await registry.promote(NAME, version, "staging", { approvedBy: "t" });
  await registry.promote(NAME, STABLE, "prod", { approvedBy: "t" });
  const webhook = await startWebhookReceiver();
  cleanups.push(() => webhook.close());
  const env = { REDIS_URL: redisUrl(), REDIS_PREFIX: prefix, ALERT_WEBHOOK_URL: webhook.url };
  const gw = await startServe({
    env: { ...env, GATEWAY_ENV: "prod" },
    yaml: 'routes:\n  - { match: "mock/*", provider: mock }\naggregates: { flush_interval_ms: 200 }\n',
  });
  const cli = new Redis(redisUrl(), { maxRetriesPerRequest: 1 });
  cleanups.push(async () => void cli.disconnect());
  const service = createRolloutService({ store, registry, clock: systemClock });
  return {
    prefix,
    store,
    registry,
    gateway: gw.url,
    webhook,
    env,
    cli,
    start: (version, opts = {}) =>
      service.start({ name: NAME, version, env: "prod", holdMs: 1_500, minUsers: 5, by: "alice", ...opts }),
    async record() {
      const r = parseRollout((await store.get(rolloutKey("prod", NAME))) ?? "");
      if (r === null) throw new Error("no rollout record");
      return r;
    },
  };
}

/** Requests from new users, 4 at a time, until stopped. */
const traffic = (gateway: string): Traffic => newUsersTraffic(gateway, NAME, 4);

/** The version a few new users are served now (all the same, or "mixed"). */
async function servedNow(gateway: string, users = 40): Promise<string> {
  const seen = new Set<string>();
  for (let i = 0; i < users; i++) {
    const res = await fetch(`${gateway}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-prompt-ref": NAME, "x-user-id": `probe-${Math.random()}` },
      body: JSON.stringify({ model: "mock/echo", messages: [{ role: "user", content: "hi" }] }),
    });
    await res.arrayBuffer();
    seen.add(res.headers.get("x-prompt-version") ?? "none");
  }
  return seen.size === 1 ? [...seen][0]! : "mixed";
}

const WAIT = { timeout: 30_000, interval: 100 };

describe("promptgate controller with a real gateway", () => {
  it("rolls back a canary pinned to mock/fail-30 on its own; the audit history and the webhook say why", async () => {
    const r = await rig();
    await startController(FAST, r.env);
    // A long hold: the rollout stays at 5% until the error rate guardrail decides.
    await r.start(FAILING, { holdMs: 120_000 });
    const load = traffic(r.gateway);
    cleanups.push(() => load.stop());
    await vi.waitFor(async () => expect((await r.record()).state).toBe("failed"), WAIT);
    await load.stop();

    const record = await r.record();
    expect(record.reason).toMatch(/^guardrail failed at step 1 of 4 \(5%\): .*error rate/);
    expect(load.served.get(FAILING)).toBeGreaterThan(0);
    expect(await r.store.hgetall(weightsKey("prod", NAME))).toEqual({ [STABLE]: "100", [FAILING]: "0" });
    expect((await r.registry.label(NAME, "prod"))?.version).toBe(STABLE);
    await vi.waitFor(async () => expect(await servedNow(r.gateway)).toBe(STABLE), WAIT);

    const audit = (await readHistory(r.store, NAME)).filter((e) => e.action.startsWith("rollout"));
    expect(audit.map((e) => `${e.action}:${e.to}`)).toEqual([
      `rollout_started:${FAILING}`,
      "rollout:step",
      "rollout:rolling_back",
      "rollout:failed",
    ]);
    expect(audit[2]).toMatchObject({ actor: "controller", env: "prod", version: FAILING, stepIndex: 0 });
    expect(audit[2]!.reason).toMatch(/error rate/);

    await vi.waitFor(() => expect(r.webhook.events.map((e) => e.type)).toEqual(["started", "rolled_back"]), WAIT);
    const alert = r.webhook.events[1]!;
    expect(alert).toMatchObject({
      prompt: NAME,
      env: "prod",
      versions: { stable: STABLE, canary: FAILING },
      metric: "error_rate",
      verdict: "worse",
    });
    expect(alert.reason).toMatch(/error rate/);
    expect(alert.numbers.canary).toBeGreaterThan(0.1);
    expect(alert.numbers.stable).toBeLessThan(0.05);
    expect(alert.links.stats).toMatch(/^promptgate stats greet --env prod --since \d+m$/);
  });

  it("walks a healthy canary 5 -> 25 -> 50 -> 100: the label moves and the weights are cleared", async () => {
    const r = await rig();
    const controller = await startController(FAST, r.env);
    await r.start(HEALTHY);
    const load = traffic(r.gateway);
    cleanups.push(() => load.stop());
    await vi.waitFor(async () => expect((await r.record()).state).toBe("succeeded"), { ...WAIT, timeout: 45_000 });
    await load.stop();

    const record = await r.record();
    expect(record.transitions.map((t) => `${t.to}@${record.steps[t.step_index]}`)).toEqual([
      "step@5",
      "step@25",
      "step@50",
      "promoting@50",
      "succeeded@50",
    ]);
    expect((await r.registry.label(NAME, "prod"))?.version).toBe(HEALTHY);
    expect(await r.cli.exists(`${r.prefix}weights:prod:${NAME}`)).toBe(0);
    await vi.waitFor(async () => expect(await servedNow(r.gateway)).toBe(HEALTHY), WAIT);
    await vi.waitFor(
      () => expect(r.webhook.events.map((e) => e.type)).toEqual(["started", "advanced", "advanced", "succeeded"]),
      WAIT,
    );
    const series = `{prompt="${NAME}",env="prod"`;
    expect(await controller.metric(`promptgate_rollout_state${series},state="succeeded"}`)).toBe(1);
    expect(await controller.metric(`promptgate_rollout_state${series},state="step"}`)).toBe(0);
    expect(await controller.metric(`promptgate_rollout_step${series}}`)).toBe(3);
    expect(await controller.metric(`promptgate_rollout_canary_weight${series}}`)).toBe(100);
    expect(await controller.metric('promptgate_alerts_sent_total{type="advanced"}')).toBe(2);
  });

  it("pauses on a hand edit of the weights, naming it; serves probes; SIGTERM releases the lease and exits 0", async () => {
    const r = await rig();
    const controller = await startController(FAST, r.env);
    expect((await fetch(`${controller.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${controller.url}/readyz`)).status).toBe(200);
    await vi.waitFor(async () => expect(await controller.metric("promptgate_controller_leader")).toBe(1), WAIT);
    await r.start(HEALTHY, { holdMs: 120_000 });
    const key = `${r.prefix}weights:prod:${NAME}`;
    await vi.waitFor(async () => expect(await r.cli.hgetall(key)).toEqual({ [STABLE]: "95", [HEALTHY]: "5" }), WAIT);

    await r.cli.hset(key, STABLE, "80", HEALTHY, "20"); // an SRE, by hand
    await vi.waitFor(async () => expect((await r.record()).state).toBe("paused"), WAIT);
    const record = await r.record();
    expect(record.reason).toContain(`weights changed by hand at step 1 of 4 (5%)`);
    expect(record.reason).toContain(`expected ${STABLE}=95, ${HEALTHY}=5, found ${STABLE}=80, ${HEALTHY}=20`);
    await vi.waitFor(() => expect(r.webhook.events.map((e) => e.type)).toEqual(["started", "paused"]), WAIT);
    expect(r.webhook.events[1]).toMatchObject({ verdict: "operator", reason: record.reason });
    // Looked at again and again, the rollout stays paused and the operator's weights stay.
    const seen = (await controller.metric("promptgate_controller_last_read_timestamp_seconds")) ?? 0;
    await vi.waitFor(
      async () =>
        expect(await controller.metric("promptgate_controller_last_read_timestamp_seconds")).toBeGreaterThan(
          seen + 0.5,
        ),
      WAIT,
    );
    expect(await r.cli.hgetall(key)).toEqual({ [STABLE]: "80", [HEALTHY]: "20" });
    expect(await controller.metric(`promptgate_rollout_state{prompt="${NAME}",env="prod",state="paused"}`)).toBe(1);

    expect(await r.store.get(CONTROLLER_LEASE.key)).toMatch(/^\d+:/);
    controller.child.kill("SIGTERM");
    expect(await controller.exited).toBe(0);
    expect(await r.store.get(CONTROLLER_LEASE.key)).toBeNull();
    expect(controller.stderr()).toContain("released the controller lease");
  });

  it("follows an operator's rollout pause, resume and abort from the CLI, never overwriting them", async () => {
    const r = await rig();
    await startController(FAST, r.env);
    const rollout = (...args: string[]) => cli(["rollout", ...args], r.env);
    const key = `${r.prefix}weights:prod:${NAME}`;
    expect(await rollout("start", NAME, HEALTHY, "--env", "prod", "--hold", "10m", "--by", "alice")).toMatchObject({
      code: 0,
    });
    await vi.waitFor(async () => expect(await r.cli.hgetall(key)).toEqual({ [STABLE]: "95", [HEALTHY]: "5" }), WAIT);

    expect(await rollout("pause", NAME, "--env", "prod", "--by", "bob")).toMatchObject({ code: 0 });
    await r.cli.hset(key, STABLE, "90", HEALTHY, "10"); // while paused the weights are the operator's
    expect(await rollout("resume", NAME, "--env", "prod", "--by", "bob")).toMatchObject({ code: 0 });
    // Resume asks for the step's weights again: the controller writes them and goes on stepping.
    await vi.waitFor(async () => expect(await r.cli.hgetall(key)).toEqual({ [STABLE]: "95", [HEALTHY]: "5" }), WAIT);
    expect((await r.record()).state).toBe("step");

    expect(await rollout("abort", NAME, "--env", "prod", "--by", "bob")).toMatchObject({ code: 0 });
    await vi.waitFor(async () => expect((await r.record()).state).toBe("aborted"), WAIT);
    expect(await r.cli.hgetall(key)).toEqual({ [STABLE]: "100", [HEALTHY]: "0" });
    const record = await r.record();
    expect(record.transitions.map((t) => `${t.by}:${t.to}`)).toEqual([
      "controller:step",
      "bob:paused",
      "bob:step",
      "bob:rolling_back",
      "controller:aborted",
    ]);
    const status = await rollout("status", NAME, "--env", "prod");
    expect(status.stdout).toContain("aborted");
    // The CLI sends no alert; the controller that saw each command does, once.
    await vi.waitFor(
      () => expect(r.webhook.events.map((e) => e.type)).toEqual(["started", "paused", "resumed", "aborted"]),
      WAIT,
    );
    expect(r.webhook.events.slice(1).map((e) => e.verdict)).toEqual(["operator", "operator", "operator"]);
    expect(r.webhook.events[3]!.reason).toMatch(/^aborted by bob/);
  });

  it("two controllers on one Redis: one acts; SIGKILL it and the other takes over within the lease, from the recorded step", async () => {
    const r = await rig();
    const a = await startController(FAST, r.env);
    await vi.waitFor(async () => expect(await a.metric("promptgate_controller_leader")).toBe(1), WAIT);
    const b = await startController(FAST, r.env);
    await vi.waitFor(
      async () => expect(await b.metric("promptgate_controller_last_read_timestamp_seconds")).toBeGreaterThan(0),
      WAIT,
    );
    expect(await b.metric("promptgate_controller_leader")).toBe(0);

    await r.start(HEALTHY, { holdMs: 2_500 });
    const load = traffic(r.gateway);
    cleanups.push(() => load.stop());
    await vi.waitFor(async () => expect((await r.record()).step_index).toBeGreaterThanOrEqual(1), WAIT);
    const before = await r.record();
    // Only a acted: every write carries its token, b moved nothing.
    expect(before.fencing_token).toBe(a.fence());
    expect(b.stderr()).not.toContain("rollout moved");
    expect(await b.metric("promptgate_controller_leader")).toBe(0);

    a.child.kill("SIGKILL");
    const killed = performance.now();
    await a.exited;
    await vi.waitFor(async () => expect(await b.metric("promptgate_controller_leader")).toBe(1), WAIT);
    // The lease (2 s) expires, and b, looking every 200 ms, takes it.
    expect(performance.now() - killed).toBeLessThan(2_000 + 2 * 200 + 1_000);
    expect(b.fence()).toBeGreaterThan(a.fence()!);

    await vi.waitFor(async () => expect((await r.record()).state).toBe("succeeded"), { ...WAIT, timeout: 45_000 });
    await load.stop();
    const after = await r.record();
    expect(after.fencing_token).toBe(b.fence());
    // The steps a had recorded stand; b went on from there and did not start again at 5%.
    const kept = before.transitions.length;
    expect(after.transitions.slice(0, kept)).toEqual(before.transitions);
    const next = after.transitions[kept]!;
    expect(next.from).toBe(before.state);
    expect(next.step_index).toBeGreaterThanOrEqual(before.step_index);
    expect(after.transitions.filter((t) => t.to === "step" && t.step_index === 0)).toHaveLength(1);
    expect((await r.registry.label(NAME, "prod"))?.version).toBe(HEALTHY);
  });

  it("stands by while Redis does not answer: alive, not ready, not leader", async () => {
    const port = await freePort();
    const controller = await startController(FAST, { REDIS_URL: `redis://:planted-secret@127.0.0.1:${port}` });
    expect((await fetch(`${controller.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${controller.url}/readyz`)).status).toBe(503);
    await vi.waitFor(() => expect(controller.stderr()).toContain("controller lease not checked"), WAIT);
    expect(await controller.metric("promptgate_controller_leader")).toBe(0);
    expect(controller.stderr()).not.toContain("planted-secret");
    controller.child.kill("SIGTERM");
    expect(await controller.exited).toBe(0);
  });
});
