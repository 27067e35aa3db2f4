// Hostile JSON end to end: bodies nested past limits.json_depth or holding more than limits.json_members
// object members, huge prompt variables, and `__proto__` in the body's prompt_variables. Each is a 400 in
// OpenAI's shape that names the limit or the variable, counted as a 4xx; the provider never hears of it,
// and the event loop is never held for more than a few milliseconds per MB of body.
import { request } from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ErrorBody } from "../gateway/errors/gateway-error.ts";
import { parsePromptFile } from "../gateway/prompts/prompt-file.ts";
import { DEFAULT_MAX_ARRAY_ITEMS, MAX_VARIABLE_VALUES } from "../gateway/prompts/variables.ts";
import { createRegistry } from "../gateway/registry/registry.ts";
import { systemClock } from "../gateway/support/clock.ts";
import { chatJson, startFakeProvider, type FakeProvider } from "./support/fake-provider.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

const MB = 1024 * 1024;
/**
 * How long a request may hold the event loop: a floor plus so much per MB of body. Refusing a body costs
 * well under 1 ms per MB; before the limits, the 9.8 MB nested body below held it for about 5 s. The
 * margin is for a busy machine: the histogram also counts the time the process waits to be scheduled.
 */
const blockBudgetMs = (bytes: number): number => 50 + 20 * (bytes / MB);
const TOKEN = "adm";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(limits = ""): Promise<{ gw: TestGateway; provider: FakeProvider }> {
  const provider = await startFakeProvider();
  provider.handle(chatJson("ok"));
  cleanups.push(() => provider.close());
  const yaml = `
providers:
  fake: { base_url: "\${PROVIDER_URL}" }
routes:
  - { match: "mock/*", provider: mock }
  - { match: "*", provider: fake }
${limits}
`;
  const gw = await startTestGateway({ providerUrl: provider.url, yaml, env: { ADMIN_TOKEN: TOKEN } });
  cleanups.push(() => gw.close());
  return { gw, provider };
}

interface Answer {
  status: number;
  error: ErrorBody["error"];
}

/** POSTs with node:http, which writes a Buffer as it is (fetch would copy 10 MB on this event loop). */
function post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json", ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const json = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Partial<ErrorBody>;
        const error = json.error ?? { message: "", type: "", param: null, code: "" };
        resolve({ status: res.statusCode ?? 0, error });
      });
    });
    // The gateway answers a refused body before it has all of it, and may then close: that is fine here.
    req.on("error", (err) => (req.writableFinished ? undefined : reject(err)));
    req.end(body);
  });
}

/** `name{labels} value` lines of /metrics as a map. */
async function metrics(gw: TestGateway): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await (await fetch(`${gw.url}/metrics`)).text()).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

const requests = async (gw: TestGateway, labels: string): Promise<number> =>
  (await metrics(gw)).get(`promptgate_requests_total{${labels}}`) ?? 0;

/** The longest the event loop was held while `work` ran, in ms. */
async function longestBlock<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  try {
    const result = await work();
    return { result, ms: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}

/** A chat body whose one message's content is `depth` arrays inside one another, `size` bytes in all. */
function nestedBody(size: number): Buffer {
  const head = '{"model":"gpt-test","messages":[{"role":"user","content":';
  const tail = "}]}";
  const depth = Math.floor((size - head.length - tail.length) / 2);
  return Buffer.from(head + "[".repeat(depth) + "]".repeat(depth) + tail);
}

const NONE = 'prompt="none",version="none",variant="none",model="none",status="4xx"';

describe("a deeply nested body", () => {
  it("is a 400 naming limits.json_depth, refused without holding the event loop", async () => {
    const { gw, provider } = await setup();
    const body = nestedBody(9.8 * MB);
    const { result, ms } = await longestBlock(() => post(`${gw.url}/v1/chat/completions`, body));
    expect(result.status).toBe(400);
    expect(result.error).toEqual({
      message: "The request body nests arrays and objects more than 128 levels deep (the limit is limits.json_depth)",
      type: "invalid_request_error",
      param: null,
      code: "invalid_request",
    });
    expect(ms).toBeLessThan(blockBudgetMs(body.length));
    expect(provider.received).toHaveLength(0);
    expect(await requests(gw, NONE)).toBe(1);
    // Refused at its first bytes past the limit, while the rest was still coming: read away, then closed.
    await vi.waitFor(async () => {
      const counted = await metrics(gw);
      const closes = ["complete", "client_closed", "cut"].map(
        (o) => counted.get(`promptgate_lingering_closes_total{outcome="${o}"}`) ?? 0,
      );
      expect(closes.reduce((a, b) => a + b)).toBe(1);
    });
  });

  it("four at once are refused just as quickly", async () => {
    const { gw, provider } = await setup();
    const body = nestedBody(9.8 * MB);
    const { result, ms } = await longestBlock(() =>
      Promise.all([1, 2, 3, 4].map(() => post(`${gw.url}/v1/chat/completions`, body))),
    );
    expect(result.map((r) => r.status)).toEqual([400, 400, 400, 400]);
    expect(ms).toBeLessThan(blockBudgetMs(body.length));
    expect(provider.received).toHaveLength(0);
    expect(await requests(gw, NONE)).toBe(4);
  });

  it("is refused on every JSON route: passthrough and the admin API too", async () => {
    const { gw, provider } = await setup();
    const deep = `{"model":"gpt-test","input":${"[".repeat(200)}${"]".repeat(200)}}`;
    const passthrough = await post(`${gw.url}/v1/moderations`, deep);
    expect(passthrough.status).toBe(400);
    expect(passthrough.error.message).toContain("more than 128 levels deep (the limit is limits.json_depth)");
    expect(provider.received).toHaveLength(0);

    const auth = { authorization: `Bearer ${TOKEN}` };
    const promote = await post(
      `${gw.url}/admin/prompts/x/promote`,
      `{"version":${"[".repeat(65)}${"]".repeat(65)}}`,
      auth,
    );
    expect(promote.status).toBe(400);
    expect(promote.error.message).toBe("The request body nests arrays and objects more than 64 levels deep");
    // A prompt file as YAML: flow collections nest like JSON, and the YAML parser recurses on them.
    const yaml = `name: x\nversion: 1.0.0\nparams: { a: ${"[".repeat(5000)}${"]".repeat(5000)} }\n`;
    const file = await post(`${gw.url}/admin/prompts`, yaml, { ...auth, "content-type": "application/yaml" });
    expect(file.status).toBe(400);
    expect(file.error.message).toContain("more than 64 levels deep");
    const wide = JSON.stringify({
      ref: "x",
      vars: Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`k${i}`, 1])),
    });
    const render = await post(`${gw.url}/admin/render`, wide, auth);
    expect(render.status).toBe(400);
    expect(render.error.message).toBe('The request body has more than 10000 object members ("name": value pairs)');
  });

  it("reads a YAML prompt file off the event loop, so the proxy keeps answering", async () => {
    const { gw, provider } = await setup();
    const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/yaml" };
    // 9,990 keys of one mapping (within the 10,000 members): the YAML parser checks each key against
    // all the others, for a second or more.
    const keys = Array.from({ length: 9_990 }, (_, i) => `  k${i}: 1`).join("\n");
    const yaml = `name: x\nversion: 1.0.0\nparams:\n${keys}\n`;
    const chat = JSON.stringify({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] });
    const { result, ms } = await longestBlock(async () => {
      const slow = post(`${gw.url}/admin/prompts`, yaml, auth);
      // While the worker parses, inference requests are answered.
      expect((await post(`${gw.url}/v1/chat/completions`, chat)).status).toBe(200);
      return slow;
    });
    // Refused for what it holds once read, or at the parse deadline on a slow machine.
    expect(result.status).toBe(400);
    expect(result.error.message).toMatch(
      /^body: (messages: declare at least one template|the YAML took longer than 2000 ms)/,
    );
    // Parsed on the event loop, this text holds it for more than a second.
    expect(ms).toBeLessThan(250);
    expect(provider.received).toHaveLength(1);

    const broken = await post(`${gw.url}/admin/prompts`, "name: x\n  version: [1.0.0\n", auth);
    expect(broken.status).toBe(400);
    expect(broken.error.message).toMatch(/^body: invalid YAML: /);
    const list = await post(`${gw.url}/admin/prompts`, "- a\n- b\n", auth);
    expect(list.status).toBe(400);
    expect(list.error.message).toBe("body: expected a prompt file, a YAML mapping");
  });
});

describe("limits.json_depth, limits.json_members and limits.json_containers", () => {
  it("are settings: a body at the limits passes, one past them is a 400 naming the setting", async () => {
    const { gw, provider } = await setup("limits: { json_depth: 8, json_members: 20 }");
    const url = `${gw.url}/v1/chat/completions`;
    // model, messages, then role and content in each message: 2 + 2n members; the body is depth 2 + 2.
    const chat = (messages: number, content: unknown = "hi"): string =>
      JSON.stringify({
        model: "gpt-test",
        messages: Array.from({ length: messages }, () => ({ role: "user", content })),
      });
    expect((await post(url, chat(9))).status).toBe(200);
    const wide = await post(url, chat(10));
    expect(wide.status).toBe(400);
    expect(wide.error.message).toBe(
      'The request body has more than 20 object members ("name": value pairs) (the limit is limits.json_members)',
    );
    expect((await post(url, chat(1, [[[[["x"]]]]]))).status).toBe(200);
    const deep = await post(url, chat(1, [[[[[["x"]]]]]]));
    expect(deep.status).toBe(400);
    expect(deep.error.message).toContain("more than 8 levels deep (the limit is limits.json_depth)");
    expect(provider.received).toHaveLength(2);
  });

  it("bound objects whose keys come in ever new orders, which cost V8 a hidden class each", async () => {
    const { gw, provider } = await setup();
    // 6,000 objects of the same 20 keys, each in its own order: JSON.parse takes about 0.5 s per 100,000.
    let seed = 1;
    const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const objects = Array.from({ length: 6_000 }, () => {
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`).sort(() => random() - 0.5);
      return `{${keys.map((k) => `"${k}":1`).join(",")}}`;
    });
    const body = `{"model":"gpt-test","messages":[],"metadata":[${objects.join(",")}]}`;
    const { result, ms } = await longestBlock(() => post(`${gw.url}/v1/chat/completions`, body));
    expect(result.status).toBe(400);
    expect(result.error.message).toContain("more than 100000 object members");
    expect(ms).toBeLessThan(blockBudgetMs(body.length));
    expect(provider.received).toHaveLength(0);
  });

  it("bound the arrays and objects side by side, which JSON.parse and JSON.stringify pay for one by one", async () => {
    const { gw, provider } = await setup();
    // 9.6 MB of `[],[],...` is shallow and has no members, and held the event loop for over a second.
    const junk = Array.from({ length: 3_200_000 }, () => "[]").join(",");
    const body = `{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"metadata":[${junk}]}`;
    const { result, ms } = await longestBlock(() => post(`${gw.url}/v1/chat/completions`, body));
    expect(result.status).toBe(400);
    expect(result.error.message).toBe(
      "The request body holds more than 100000 arrays and objects (the limit is limits.json_containers)",
    );
    expect(ms).toBeLessThan(blockBudgetMs(body.length));
    expect(provider.received).toHaveLength(0);
  });
});

const LISTS = `
name: lists
version: 1.0.0
variables:
  points: { type: array, items: string, default: [] }
  facts: { type: object, default: {} }
messages:
  - role: system
    content: "{% for p in points %}- {{ p }}\\n{% endfor %}{% for k, v in facts %}{{ k }}={{ v }} {% endfor %}"
`;

async function withPrompt(): Promise<{ gw: TestGateway; provider: FakeProvider }> {
  const ctx = await setup();
  const registry = createRegistry(ctx.gw.deps.store, systemClock);
  await registry.register(parsePromptFile(LISTS, "lists/1.0.0.yaml"), "test");
  await registry.promote("lists", "1.0.0", "staging", { approvedBy: "t" });
  await registry.promote("lists", "1.0.0", "prod", { approvedBy: "t" });
  await vi.waitFor(async () => expect((await ask(ctx.gw, { points: ["a"] })).status).toBe(200), { timeout: 10_000 });
  ctx.provider.received.length = 0;
  return ctx;
}

const ask = (gw: TestGateway, vars: unknown, how: "body" | "header" = "body"): Promise<Answer> => {
  const body: Record<string, unknown> = { model: "gpt-test", messages: [] };
  const headers: Record<string, string> = { "x-prompt-ref": "lists", "x-user-id": "u1" };
  if (how === "body") body.prompt_variables = vars;
  else headers["x-prompt-vars"] = JSON.stringify(vars);
  return post(`${gw.url}/v1/chat/completions`, JSON.stringify(body), headers);
};

const SERVED = 'prompt="lists",version="1.0.0",variant="stable",model="gpt-test",status="4xx"';

describe("a huge prompt variable", () => {
  it("is a 400 naming the variable and the cap, not a 500 blaming the template", async () => {
    const { gw, provider } = await withPrompt();
    const huge = await ask(gw, { points: Array.from({ length: 100_000 }, (_, i) => `p${i}`) });
    expect(huge.status).toBe(400);
    expect(huge.error).toMatchObject({ code: "invalid_request", param: "prompt_variables.points" });
    expect(huge.error.message).toBe(
      `prompt_variables.points: expected at most ${DEFAULT_MAX_ARRAY_ITEMS} items (the cap for a variable that declares no max_length), got 100000`,
    );
    // The header is bounded by its size, the variables by the same caps.
    const header = await ask(gw, { points: Array.from({ length: DEFAULT_MAX_ARRAY_ITEMS + 1 }, () => "p") }, "header");
    expect(header).toMatchObject({ status: 400, error: { param: "prompt_variables.points" } });
    const facts = Object.fromEntries(Array.from({ length: MAX_VARIABLE_VALUES + 1 }, (_, i) => [`k${i}`, i]));
    const object = await ask(gw, { facts });
    expect(object.status).toBe(400);
    expect(object.error.message).toBe(
      `prompt_variables.facts: holds more than ${MAX_VARIABLE_VALUES} values (array items and object members, at any depth)`,
    );
    expect(provider.received).toHaveLength(0);
    expect(await requests(gw, SERVED)).toBe(3);
    expect((await ask(gw, { points: ["a", "b"], facts: { x: 1 } })).status).toBe(200);
  });

  it("nested past limits.json_depth in X-Prompt-Vars is a 400 naming the header", async () => {
    const { gw, provider } = await withPrompt();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-prompt-ref": "lists",
        "x-prompt-vars": `{"facts":${"[".repeat(200)}${"]".repeat(200)}}`,
      },
      body: JSON.stringify({ model: "gpt-test", messages: [] }),
    });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as ErrorBody;
    expect(error.param).toBe("X-Prompt-Vars");
    expect(error.message).toBe(
      "X-Prompt-Vars nests arrays and objects more than 128 levels deep (the limit is limits.json_depth)",
    );
    expect(provider.received).toHaveLength(0);
  });
});

describe("forbidden keys in the body's prompt_variables", () => {
  it.each([
    ['{"__proto__": {"polluted": true}, "points": ["a"]}', "prompt_variables.__proto__", '"__proto__"'],
    ['{"constructor": {"prototype": {}}}', "prompt_variables.constructor", '"constructor"'],
    ['{"facts": {"a": {"__proto__": {"polluted": true}}}}', "prompt_variables.facts", "facts.a.__proto__"],
  ])("are a 400 as in X-Prompt-Vars: %s", async (vars, param, named) => {
    const { gw, provider } = await withPrompt();
    const raw = `{"model":"gpt-test","messages":[],"prompt_variables":${vars}}`;
    for (const [how, r] of [
      ["body", await post(`${gw.url}/v1/chat/completions`, raw, { "x-prompt-ref": "lists" })],
      [
        "header",
        await post(`${gw.url}/v1/chat/completions`, '{"model":"gpt-test","messages":[]}', {
          "x-prompt-ref": "lists",
          "x-prompt-vars": vars,
        }),
      ],
    ] as const) {
      expect(r.status, how).toBe(400);
      expect(r.error.param, how).toBe(param);
      expect(r.error.message, how).toContain(`${named}`);
      expect(r.error.message, how).toContain("is not allowed");
    }
    expect(provider.received).toHaveLength(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
