// The console in a real browser (Debian's Chromium through playwright-core) against a real gateway on the mock
// provider and a real Redis: sign-in (and a wrong token refused), the prompts, a diff, a template holding <script>
// shown as text, weights changed in the page and seen in served traffic, promotion and rollback with the gate's
// verdict, the experiment's charts, eval runs, the audit filters and a rollout's page and buttons. Each page is
// photographed (docs/console-*.png with CONSOLE_SCREENSHOTS=docs).
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createRegistry } from "../gateway/registry/registry.ts";
import { parseRollout, type RolloutRecord } from "../gateway/rollouts/record.ts";
import { reconcile } from "../gateway/rollouts/machine.ts";
import type { ArmObservation } from "../gateway/rollouts/guardrails.ts";
import { rolloutKey } from "../gateway/store/keys.ts";
import { createRedisStore } from "../gateway/store/redis-store.ts";
import type { Store } from "../gateway/store/store.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { createLogger } from "../gateway/support/logger.ts";
import { chromiumPath, launchBrowser, NO_CHROMIUM, screenshotDir, watchProblems } from "./support/browser.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";
import { redisUrl, uniquePrefix } from "./support/redis.ts";

const TOKEN = "console-test-token-5f1c";
const PRICING = 'models:\n  "mock/echo": { input: 0.15, output: 0.6 }\n';

const SUMMARIZATION_100 = `name: summarization
version: 1.0.0
description: Two-sentence summaries for the inbox
model: mock/echo
params: { temperature: 0.3 }
variables:
  text: { type: string, required: true }
messages:
  - role: system
    content: Summarize the user's text in exactly two sentences.
  - role: user
    content: "{{ text }}"
`;
const SUMMARIZATION_110 = `name: summarization
version: 1.1.0
description: Summaries with a chosen length and focus points
model: mock/echo
params: { temperature: 0.3, max_tokens: 200 }
variables:
  text: { type: string, required: true }
  target_sentences: { type: integer, default: 2 }
  focus_points: { type: array, items: string, default: [] }
messages:
  - role: system
    content: |
      Summarize in exactly {{ target_sentences }} sentence{{ "s" if target_sentences != 1 }}.
      {% for p in focus_points %}- {{ p }}
      {% endfor %}
  - role: user
    content: "{{ text }}"
`;
const SUPPORT_BOT = `name: support-bot
version: 1.0.0
description: First answers to support tickets
model: mock/echo
variables:
  ticket: { type: string, required: true }
messages:
  - role: system
    content: Answer the customer politely. Ticket follows.
  - role: user
    content: "{{ ticket }}"
`;
/** Author-written text that would run as script if the console ever used it as HTML. */
const HOSTILE = `name: hostile-probe
version: 1.0.0
description: '<img src=x onerror="window.__pwned=1"> description'
model: mock/echo
messages:
  - role: system
    content: '<script>window.__pwned=2</script><b>bold?</b>'
`;

const runIf = chromiumPath === null ? describe.skip : describe;
if (chromiumPath === null) console.warn(NO_CHROMIUM);

runIf("console in a browser", { timeout: 60_000 }, () => {
  let store: Store;
  let gw: TestGateway;
  let browser: Browser;
  let page: Page;
  let problems: string[];
  const requested: string[] = [];
  const logLines: string[] = [];
  const shots = screenshotDir();

  const admin = async <T>(path: string, init: { method?: string; body?: unknown; yaml?: string } = {}): Promise<T> => {
    const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, "x-actor": "test-setup" };
    let body: string | undefined;
    if (init.yaml !== undefined) {
      headers["content-type"] = "application/yaml";
      body = init.yaml;
    } else if (init.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(init.body);
    }
    const res = await fetch(`${gw.url}/admin${path}`, {
      method: init.method ?? (body === undefined ? "GET" : "POST"),
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  /** One prompt request as user `user`; returns the version that served it and the request id. */
  const serve = async (user: string): Promise<{ version: string; id: string }> => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-prompt-ref": "summarization",
        "x-user-id": user,
        "x-prompt-vars": JSON.stringify({ text: "Revenue grew 12% while costs fell." }),
      },
      body: JSON.stringify({ model: "mock/echo", messages: [{ role: "user", content: "go" }] }),
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    return { version: res.headers.get("x-prompt-version")!, id: res.headers.get("x-request-id")! };
  };

  const shot = (name: string) => page.screenshot({ path: join(shots, `console-${name}.png`), fullPage: true });
  const go = async (hash: string) => {
    await page.evaluate((h) => (location.hash = h), hash);
  };
  /** Waits until an element matching `selector` holds `text` (a page redraws after each call it makes). */
  const seen = async (selector: string, text: string | RegExp) => {
    const l = page.locator(selector).filter({ hasText: text }).first();
    await l.waitFor();
    return l.innerText();
  };
  const textOf = async (selector: string) => {
    const l = page.locator(selector).first();
    await l.waitFor();
    return l.innerText();
  };

  beforeAll(async () => {
    store = await createRedisStore({
      url: redisUrl(),
      prefix: uniquePrefix("console"),
      logger: createLogger("error", () => undefined),
    });
    gw = await startTestGateway({
      env: { ADMIN_TOKEN: TOKEN },
      store,
      pricing: PRICING,
      logger: createLogger("debug", (line) => void logLines.push(line)),
    });
    for (const yaml of [SUMMARIZATION_100, SUMMARIZATION_110, SUPPORT_BOT, HOSTILE]) await admin("/prompts", { yaml });
    for (const env of ["dev", "staging", "prod"])
      await admin("/prompts/summarization/promote", { body: { version: "1.0.0", env, approved_by: "alice" } });
    await admin("/prompts/support-bot/promote", { body: { version: "1.0.0", env: "dev", approved_by: "bob" } });
    await admin("/prompts/hostile-probe/promote", { body: { version: "1.0.0", env: "dev", approved_by: "bob" } });
    await vi.waitFor(async () => expect((await serve("warmup")).version).toBe("1.0.0"), { timeout: 5_000 });
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    problems = watchProblems(page);
    page.on("request", (r) => void requested.push(r.url()));
  });

  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    if (store) {
      for (const key of await store.keys("")) await store.del(key);
      await store.close();
    }
  });

  it("refuses a wrong token and keeps nothing of it", async () => {
    await page.goto(`${gw.url}/console`);
    await page.fill("input[name=token]", "not-the-token");
    await page.fill("input[name=actor]", "carol");
    await page.click("button[type=submit]");
    await seen(".note.error", "refused this token");
    expect(await page.evaluate(() => sessionStorage.getItem("promptgate.console.token"))).toBeNull();
    expect(page.url()).not.toContain("not-the-token");
    await shot("sign-in");
  });

  it("signs in and lists every prompt with its labels, split and traffic", async () => {
    await page.fill("input[name=token]", TOKEN);
    await page.fill("input[name=actor]", "carol");
    await page.click("button[type=submit]");
    const table = await textOf("table.overview");
    expect(table).toContain("summarization");
    expect(table).toContain("support-bot");
    expect(page.url()).not.toContain(TOKEN);
    const prod = await textOf("table.overview tr:has(a.prompt-name:text-is('summarization')) [data-env=prod]");
    expect(prod).toContain("1.0.0");
  });

  it("shows a prompt's versions and the diff between two of them", async () => {
    await go("#/prompt/summarization");
    await page.locator("details.version-card[data-version='1.1.0'] summary").click();
    await seen("details.version-card[data-version='1.1.0']", "target_sentences");
    await page.selectOption("select[name=from]", "1.0.0");
    await page.selectOption("select[name=to]", "1.1.0");
    await page.click("button:text('Show diff')");
    const added = await page.locator("pre.diff .add").allInnerTexts();
    const removed = await page.locator("pre.diff .del").allInnerTexts();
    expect(added.join("")).toContain("Summarize in exactly {{ target_sentences }}");
    expect(removed.join("")).toContain("Summarize the user's text in exactly two sentences.");
    await page.click("button:text('Render')");
    await seen(".render-out", "Summarize in exactly 2 sentences.");
    await shot("prompt");
  });

  it("shows a template holding <script> as text, never as markup", async () => {
    await go("#/prompt/hostile-probe");
    await page.locator("details.version-card summary").first().click();
    const template = await textOf("details.version-card .template pre");
    expect(template).toBe("<script>window.__pwned=2</script><b>bold?</b>");
    await seen("details.version-card summary", '<img src=x onerror="window.__pwned=1">');
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.locator("main script, main img, main b").count()).toBe(0);
  });

  it("changes the weights after the gateway's check, and the served traffic follows", async () => {
    await go("#/weights/summarization/prod");
    await page.fill("input[name='weight-1.0.0']", "50");
    await page.fill("input[name='weight-1.1.0']", "abc");
    await seen(".preview .note.error", "not a number");
    await page.fill("input[name='weight-1.1.0']", "-5");
    await seen(".preview .note.error", "refused weights");
    expect(await page.locator("button:text('Save weights')").isDisabled()).toBe(true);
    await page.fill("input[name='weight-1.1.0']", "50");
    await seen(".preview .note.ok", "sum to 100");
    await page.click("button:text('Save weights')");
    await seen(".result .note.ok", "recorded in the audit history as carol");
    await shot("weights");

    await vi.waitFor(async () => expect((await serve("probe-canary-7")).version).toMatch(/^1\.[01]\.0$/), {
      timeout: 5_000,
    });
    const served = new Map<string, number>();
    await vi.waitFor(
      async () => {
        const probe = await Promise.all(Array.from({ length: 20 }, (_, i) => serve(`probe-${i}`)));
        expect(new Set(probe.map((p) => p.version)).size).toBe(2);
      },
      { timeout: 5_000 },
    );
    const ids: { version: string; id: string }[] = [];
    for (let i = 0; i < 200; i++) {
      const r = await serve(`user-${i}`);
      ids.push(r);
      served.set(r.version, (served.get(r.version) ?? 0) + 1);
    }
    const canary = (served.get("1.1.0") ?? 0) / 200;
    expect(canary).toBeGreaterThan(0.35);
    expect(canary).toBeLessThan(0.65);
    // Feedback for the experiment page: the canary scores a little higher.
    for (const [i, r] of ids.entries()) {
      if (i % 2 !== 0) continue;
      const score = r.version === "1.1.0" ? (i % 10 < 8 ? 1 : 0.5) : i % 10 < 6 ? 1 : 0.5;
      const res = await fetch(`${gw.url}/v1/feedback`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ request_id: r.id, score }),
      });
      expect(res.status).toBe(200);
    }
    await gw.deps.aggregates.flush();
  });

  it("draws the experiment: versions, charts, comparisons against zero and the split check", async () => {
    await go("#/experiment/summarization/prod");
    await seen("table.stats-versions", "1.1.0");
    await page.locator(".charts canvas").nth(5).waitFor();
    expect(await page.locator(".charts figure").count()).toBe(6);
    expect(await page.locator(".comparison").count()).toBeGreaterThanOrEqual(2);
    await seen(".comparison[data-metric=quality] .words", /1\.1\.0|Too early/);
    expect(await page.locator(".comparison[data-metric=quality] .interval .zero").count()).toBe(1);
    await seen(".srm", /match the weights|mismatch/i);
    await seen(".informational-table", "cost per request");
    await shot("experiment");
  });

  it("lists eval runs per version with pass rates, the baseline comparison and the worst cases", async () => {
    const registry = createRegistry(store, systemClock);
    const v100 = await registry.get("summarization", "1.0.0");
    const v110 = await registry.get("summarization", "1.1.0");
    const base = {
      prompt: "summarization",
      suite: "config/evals/summarization.yaml",
      suite_hash: "suite-hash-1",
      judges: [],
      started_at: new Date(Date.now() - 120_000).toISOString(),
      finished_at: new Date(Date.now() - 60_000).toISOString(),
      grader_errors: 0,
      cost_usd: 0.0012,
      by: "ci",
    };
    await registry.recordEval({
      ...base,
      version: "1.0.0",
      content_hash: v100!.hash,
      baseline: null,
      passed: true,
      cases: 6,
      metrics: { contains: { n: 6, mean: 0.83, std: 0.4, min: 0, max: 1, pass_rate: 0.83 } },
      gate: null,
    });
    await registry.recordEval({
      ...base,
      version: "1.1.0",
      content_hash: v110!.hash,
      baseline: { version: "1.0.0", content_hash: v100!.hash },
      passed: true,
      cases: 6,
      metrics: { contains: { n: 6, mean: 1, std: 0, min: 1, max: 1, pass_rate: 1 } },
      gate: {
        passed: true,
        confidence: 0.95,
        thresholds_passed: true,
        metrics: [
          {
            metric: "contains",
            kind: "binary",
            test: "paired_proportions",
            n: 6,
            unpaired: 0,
            baseline_mean: 0.83,
            candidate_mean: 1,
            diff: 0.17,
            ci_low: -0.15,
            ci_high: 0.56,
            p_value: 1,
            wilcoxon_p_value: null,
            max_regression: 0.05,
            verdict: "inconclusive",
            reason: "the interval straddles the allowed regression",
          },
        ],
        failures: [],
      },
      worst_cases: [
        {
          case_id: "3",
          score: 0.5,
          passed: false,
          vars: '{"text":"<script>alert(1)</script>"}',
          output: "system: Summarize in exactly 2 sentences.",
          reason: "expected output to contain 'revenue'",
        },
      ],
    });
    await go("#/evals/summarization");
    await seen("table.eval-versions", "1.1.0");
    await page.locator("details.run-card[data-version='1.1.0'] summary").click();
    const card = await textOf("details.run-card[data-version='1.1.0']");
    expect(card).toContain("Against 1.0.0: gate passed");
    expect(card).toContain("Worst cases");
    expect(card).toContain('{"text":"<script>alert(1)</script>"}');
    await shot("evals");
  });

  it("promotes with the gate's verdict shown first, and rolls back", async () => {
    await go("#/prompt/summarization");
    await page.selectOption("select[name=promote-version]", "1.1.0");
    await page.selectOption("select[name=promote-env]", "prod");
    await seen(".promote-panel [data-gate=staging]", "never been on staging");
    expect(await page.locator(".promote-panel button.primary").isDisabled()).toBe(true);
    expect(await page.locator(".promote-panel .force").isVisible()).toBe(true);
    await page.selectOption("select[name=promote-env]", "staging");
    await seen(".promote-panel [data-gate=eval]", "passed its latest evaluation");
    await page.locator(".promote-panel button.primary:not([disabled])").waitFor();
    expect(await page.locator(".promote-panel .force").isVisible()).toBe(false);
    await shot("release");
    await page.click(".promote-panel button.primary");
    await seen(".flash", "staging now points at 1.1.0");
    const labels = await admin<{ labels: Record<string, { version: string; approvedBy: string } | null> }>(
      "/prompts/summarization",
    );
    expect(labels.labels.staging).toMatchObject({ version: "1.1.0", approvedBy: "carol" });

    await seen(".label-card[data-env=staging] .version", "1.1.0");
    await page.selectOption("select[name=rollback-env]", "staging");
    await seen(".rollback-panel .verdict", "from 1.1.0 to 1.0.0");
    await page.click(".rollback-panel button.danger");
    await seen(".flash", "staging now points at 1.0.0");
    const after = await admin<{ labels: Record<string, { version: string } | null> }>("/prompts/summarization");
    expect(after.labels.staging?.version).toBe("1.0.0");
  });

  it("filters the audit history by prompt, actor and action", async () => {
    await go("#/audit");
    await seen("table.audit-table", "register");
    await shot("audit");
    await go("#/audit?action=weights");
    await page.locator("table.audit-table").waitFor();
    const rows = await page.locator("table.audit-table tbody tr").allInnerTexts();
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r).toContain("weights");
    await page.selectOption("select[name=action]", "promote");
    await page.locator("table.audit-table").waitFor();
    await vi.waitFor(async () => expect(page.url()).toContain("action=promote"));
    await page.fill("input[name=actor]", "carol");
    await page.press("input[name=actor]", "Enter");
    await vi.waitFor(async () => {
      const filtered = await page.locator("table.audit-table tbody tr").allInnerTexts();
      expect(filtered.length).toBe(1);
      expect(filtered[0]).toContain("carol");
    });
  });

  it("shows a rollout's steps, guardrails and reasons, and its buttons act on it", async () => {
    await admin("/prompts/summarization/rollouts", {
      body: { version: "1.1.0", env: "prod", steps: [5, 25, 50, 100], hold: 60_000, min_users: 50 },
    });
    // The controller's part, played with its own state machine on synthetic traffic: two steps passed.
    let record = parseRollout((await store.get(rolloutKey("prod", "summarization"))) ?? "")!;
    const arm = (users: number, errors: number): ArmObservation => ({
      users,
      requests: users * 2,
      errors,
      latency: null,
      cost: null,
      quality: { n: users, sum: users * 0.7, sumSq: users * 0.52 },
    });
    const start = Date.now() - 10 * 60_000;
    const weightsOf = (r: RolloutRecord) =>
      Object.fromEntries(Object.entries(r.written_weights ?? {}).map(([v, w]) => [v, String(w)]));
    const times = [start, start + 61_000, start + 62_000, start + 123_000, start + 124_000, start + 180_000];
    for (const now of times) {
      const step = record.state === "step" ? { stable: arm(400, 4), canary: arm(120, 1) } : null;
      record = reconcile(record, { label: "1.0.0", weights: weightsOf(record), step }, now).record;
    }
    expect(record.steps[record.step_index]).toBe(50);
    await store.set(rolloutKey("prod", "summarization"), JSON.stringify(record));

    await go("#/rollout/summarization/prod");
    await seen(".rollout-head", "1.0.0 → 1.1.0");
    expect(await page.locator(".timeline .step.done").count()).toBe(2);
    await seen(".timeline .step.current", "50%");
    await seen(".weight-now", "50%");
    expect(await page.locator(".guardrail[data-metric=error_rate] .interval .margin").count()).toBe(1);
    await seen(".transitions", "step");
    await shot("rollout");

    await go("#/rollouts");
    await seen("table.rollouts-table", "1.0.0 → 1.1.0");
    await page.click("table.rollouts-table a");
    await seen(".rollout-head", "1.0.0 → 1.1.0");

    // The first page again, now with traffic, a split, an eval run and the rollout.
    await go("#/");
    await seen("table.overview [data-env=prod]", "rollout step 50%");
    await seen("table.overview", "passed");
    await shot("prompts");
    await go("#/rollout/summarization/prod");
    await seen(".rollout-head", "1.0.0 → 1.1.0");
    // Only what the state allows can be clicked: a running step cannot be resumed, a paused one not paused.
    const enabled = async (): Promise<string[]> =>
      page.$$eval("button[data-command]:not([disabled])", (bs) => bs.map((b) => b.getAttribute("data-command") ?? ""));
    expect(await enabled()).toEqual(["pause", "abort", "promote"]);

    await page.click("button[data-command=pause]");
    await seen(".result .note.ok", "now paused");
    expect((await admin<RolloutRecord>("/prompts/summarization/rollouts/prod")).state).toBe("paused");
    expect(await enabled()).toEqual(["resume", "abort", "promote"]);
    await page.click("button[data-command=resume]");
    await seen(".result .note", /resume: the rollout is now step|cannot resume/);
    expect((await admin<RolloutRecord>("/prompts/summarization/rollouts/prod")).state).toBe("step");
    await page.click("button[data-command=abort]");
    await seen(".result .note.ok", /now (rolling_back|aborted)/);
  });

  it("answers an unknown page, an unknown prompt and a malformed address with a message", async () => {
    await go("#/nowhere");
    await seen("main .note.error", "There is no such page.");
    await go("#/prompt/no-such-prompt");
    await seen("main .note.error", "no-such-prompt");
    await go("#/prompt/%E0%A4%A");
    await seen("main .note.error", "HTTP 404");
  });

  it("kept the token out of every log line and raised no page error or CSP violation", async () => {
    await page.click("button:text('Sign out')");
    await page.locator("input[name=token]").waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("promptgate.console.token"))).toBeNull();
    expect(logLines.join("\n")).not.toContain(TOKEN);
    expect(requested.length).toBeGreaterThan(20);
    expect(requested.filter((u) => u.includes(TOKEN))).toEqual([]);
    // Refusals the pages showed on purpose (the wrong token's 401, the bad weights' 400, no rollout yet's 404) are
    // logged by the browser as failed loads; anything else (a script error, a CSP violation) is a bug.
    expect(
      problems.filter((p) => !/Failed to load resource: the server responded with a status of 40[0149]/.test(p)),
    ).toEqual([]);
  });
});
