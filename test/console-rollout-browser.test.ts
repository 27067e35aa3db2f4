// Watching rollouts live in the console: Debian's Chromium (playwright-core) on the rollout page of a real
// `promptgate serve` (mock provider, ADMIN_TOKEN, a prefix of its own on the real Redis) while a real
// `promptgate controller` (200 ms interval, 2 s lease) moves the rollout on synthetic traffic from distinct users.
// The page refreshes by itself; every wait is on text it shows (or on the record), never a fixed sleep. A healthy
// canary is seen going 5% -> 25%, is paused and aborted with the page's buttons; then a canary pinned to
// mock/fail-30, started from the CLI, is rolled back by the controller alone and the page says which guardrail
// failed and why. The last state is photographed (docs/console-rollout-live.png with CONSOLE_SCREENSHOTS=docs).
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parsePromptFile } from "../gateway/prompts/prompt-file.ts";
import { createRegistry } from "../gateway/registry/registry.ts";
import type { RolloutRecord } from "../gateway/rollouts/record.ts";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import type { Store } from "../gateway/store/store.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { silentLogger } from "../gateway/support/logger.ts";
import { chromiumPath, launchBrowser, NO_CHROMIUM, screenshotDir, watchProblems } from "./support/browser.ts";
import { cli } from "./support/cli.ts";
import { startController } from "./support/controller-process.ts";
import { redisUrl, uniquePrefix } from "./support/redis.ts";
import { startServe } from "./support/serve-process.ts";
import { newUsersTraffic, type Traffic } from "./support/traffic.ts";

const TOKEN = "console-rollout-token-9d2e";
const NAME = "greet";
const STABLE = "1.0.0";
const HEALTHY = "1.1.0";
const FAILING = "1.2.0"; // model: mock/fail-30
const MODELS: Record<string, string> = { [STABLE]: "mock/echo", [HEALTHY]: "mock/echo", [FAILING]: "mock/fail-30" };
/** The page redraws every 5 s and the machine may be busy: waits on what it shows are generous. */
const WAIT_MS = 30_000;

const runIf = chromiumPath === null ? describe.skip : describe;
if (chromiumPath === null) console.warn(NO_CHROMIUM);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Requests from new users, 2 at a time, until stopped. */
const traffic = (gateway: string): Traffic => newUsersTraffic(gateway, NAME, 2);

runIf("console: watching a rollout with the controller", { timeout: 90_000 }, () => {
  let browser: Browser;
  let page: Page;
  let problems: string[];

  beforeAll(async () => {
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    problems = watchProblems(page);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("shows a rollout advancing, paused and aborted from its buttons, then a failing canary rolled back", async () => {
    const prefix = uniquePrefix("console-rollout");
    const store: Store = await createRedisStore({ url: redisUrl(), prefix, logger: silentLogger });
    cleanups.push(async () => {
      for (const key of await store.keys("")) await store.del(key);
      await store.close();
    });
    const registry = createRegistry(store, systemClock);
    for (const version of [STABLE, HEALTHY, FAILING]) {
      const text =
        `name: ${NAME}\nversion: ${version}\ndescription: Greets the user\nmodel: ${MODELS[version]}\n` +
        `variables: {}\nmessages:\n  - { role: system, content: "Greet the user warmly (v${version})." }\n`;
      await registry.register(parsePromptFile(text, `${NAME}/${version}.yaml`), "test-setup");
    }
    // The canaries went to staging first, as a pipeline would; prod serves the stable version.
    for (const version of [HEALTHY, FAILING, STABLE])
      await registry.promote(NAME, version, "staging", { approvedBy: "t" });
    await registry.promote(NAME, STABLE, "prod", { approvedBy: "t" });

    const env = { REDIS_URL: redisUrl(), REDIS_PREFIX: prefix };
    const [gw, controller] = await Promise.all([
      startServe({
        env: { ...env, ADMIN_TOKEN: TOKEN, GATEWAY_ENV: "prod" },
        yaml: 'routes:\n  - { match: "mock/*", provider: mock }\naggregates: { flush_interval_ms: 200 }\n',
      }),
      startController(["--interval", "200ms", "--lease", "2s"], env),
    ]);
    // Both stopped before the prefix's keys are deleted, so that neither writes one back.
    cleanups.push(async () => {
      for (const p of [gw, controller]) p.child.kill("SIGKILL");
      await Promise.all([gw.exited, controller.exited]);
    });
    const admin = async (path: string, body?: unknown): Promise<RolloutRecord> => {
      const res = await fetch(`${gw.url}/admin${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: {
          authorization: `Bearer ${TOKEN}`,
          "x-actor": "alice",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const json: unknown = await res.json();
      if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
      return json as RolloutRecord;
    };
    const record = () => admin(`/prompts/${NAME}/rollouts/prod`);
    /** Waits until an element matching `selector` shows `text` (the page redraws itself every 5 s). */
    const seen = (selector: string, text: string | RegExp) =>
      page.locator(selector).filter({ hasText: text }).first().waitFor({ timeout: WAIT_MS });
    const count = (selector: string) => page.locator(selector).count();

    // Sign in and open the prompt's rollout page before there is a rollout.
    await page.goto(`${gw.url}/console#/rollout/${NAME}/prod`);
    await page.fill("input[name=token]", TOKEN);
    await page.fill("input[name=actor]", "carol");
    await page.click("button[type=submit]");
    await seen("main .note", `${NAME} has no rollout on prod`);

    // A healthy canary, from the admin API; traffic from new users lets the controller move it.
    await admin(`/prompts/${NAME}/rollouts`, {
      version: HEALTHY,
      env: "prod",
      steps: [5, 25, 50, 100],
      hold: "8s",
      min_users: 5,
    });
    const load = traffic(gw.url);
    cleanups.push(() => load.stop());
    await seen(".rollout-head", `${STABLE} → ${HEALTHY}`);
    await seen(".timeline .step.current", "5%");
    await seen(".weight-now", `Canary ${HEALTHY} at 5% of users`);
    expect(await count(".timeline .step.done")).toBe(0);

    // The page refreshes by itself: the first step is done, the canary has a quarter of the users.
    await seen(".timeline .step.current", "25%");
    await seen(".weight-now", `Canary ${HEALTHY} at 25% of users`);
    expect(await count(".timeline .step.done")).toBe(1);
    await seen("table.transitions", "step");
    await seen("table.evaluations", "advance");

    // Pause from the page: the record is paused by carol.
    await page.click("button[data-command=pause]");
    await seen(".result .note.ok", "pause: the rollout is now paused");
    await seen(".rollout-head .badge", /^paused$/);
    const paused = await record();
    expect(paused.state).toBe("paused");
    expect(paused.transitions.at(-1)).toMatchObject({ to: "paused", by: "carol" });
    const pausedAt = paused.steps[paused.step_index]!;

    // Abort from the page: the controller sets the canary's weight to 0 and ends the rollout aborted.
    await page.click("button[data-command=abort]");
    await seen(".result .note.ok", "abort: the rollout is now rolling_back");
    await seen(".rollout-head .badge", /^aborted$/);
    expect(await page.locator("button[data-command=pause]").isDisabled()).toBe(true);
    await seen(".timeline .step.ended", `${pausedAt}%`);
    const aborted = await record();
    expect(aborted.state).toBe("aborted");
    expect(aborted.transitions.map((t) => `${t.by}:${t.to}`).slice(-3)).toEqual([
      "carol:paused",
      "carol:rolling_back",
      "controller:aborted",
    ]);

    // A canary that fails 30% of its calls, from the CLI; the controller rolls it back on its own.
    const started = await cli(
      ["rollout", "start", NAME, FAILING, "--env", "prod", "--steps", "5,25,50,100", "--hold", "10m"].concat([
        "--min-users",
        "5",
        "--by",
        "alice",
      ]),
      env,
    );
    expect(started, started.stderr).toMatchObject({ code: 0 });
    await seen(".rollout-head", `${STABLE} → ${FAILING}`);
    // What the buttons said was about the aborted rollout: it went with it.
    expect(await count(".result .note")).toBe(0);
    await seen(".rollout-head .badge", /^failed$/);
    await seen("p.reason", /guardrail failed at step 1 of 4 \(5%\): .*error rate/);
    const guardrail = ".guardrail[data-metric=error_rate]";
    expect(await page.locator(guardrail).getAttribute("data-status")).toBe("fail");
    await seen(`${guardrail} .badge`, /^fail$/);
    await seen(`${guardrail} .words`, "error rate");
    expect(await count(`${guardrail} .interval .margin`)).toBe(1);
    await seen("table.transitions", "rolling_back");
    await seen("table.evaluations", "rollback");
    await seen(".weight-now", `Canary ${FAILING} at 0% of users`);
    await seen(".timeline .step.ended", "5%");
    // The aborted rollout is listed below, with why it ended.
    await seen("main h2", "Earlier rollouts");
    await page.screenshot({ path: join(screenshotDir(), "console-rollout-live.png"), fullPage: true });
    await load.stop();

    const failed = await record();
    expect(failed.state).toBe("failed");
    expect(failed.transitions.map((t) => `${t.by}:${t.to}`)).toEqual([
      "controller:step",
      "controller:rolling_back",
      "controller:failed",
    ]);
    expect(load.served.get(FAILING)).toBeGreaterThan(0);
    // The only failed loads are the page's own "no rollout yet" 404s; no script error, no CSP violation.
    expect(
      problems.filter((p) => !/Failed to load resource: the server responded with a status of 404/.test(p)),
    ).toEqual([]);
  });
});
