// The admin API over real HTTP: off without ADMIN_TOKEN, bearer-guarded with it, and the registry's
// rules (immutability, the staging gate, rollback, audit) answered in OpenAI's error shape.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody } from "../gateway/errors/gateway-error.ts";
import { DESIGN_EXAMPLE, EARLIER_EXAMPLE } from "./support/prompt-fixtures.ts";
import type { AuditEntry } from "../gateway/registry/records.ts";
import { eventually } from "./support/registry-fixtures.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

const TOKEN = "admin-s3cret";
const V100_YAML = EARLIER_EXAMPLE;
const V110_YAML = DESIGN_EXAMPLE;
/** The same structure as a prompt file, as JSON; no model, so requests route to mock/echo. */
const GREETER = {
  name: "greeter",
  version: "1.0.0",
  variables: { who: { type: "string", required: true } },
  messages: [{ role: "system", content: "Greet {{ who }} warmly." }],
};

interface Call {
  method?: string;
  body?: unknown;
  yaml?: string;
  token?: string | null;
  actor?: string;
}

/** A response body: the error shape on failures, any fields otherwise (asserted with expect). */
type Json = ErrorBody & Record<string, unknown>;

async function call<T = Json>(gw: TestGateway, path: string, opts: Call = {}): Promise<{ status: number; json: T }> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (opts.actor) headers["x-actor"] = opts.actor;
  let body: string | undefined;
  if (opts.yaml !== undefined) {
    headers["content-type"] = "application/yaml";
    body = opts.yaml;
  } else if (opts.body !== undefined) {
    headers["content-type"] = "application/json";
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  }
  const res = await fetch(`${gw.url}${path}`, {
    method: opts.method ?? (body === undefined ? "GET" : "POST"),
    headers,
    ...(body === undefined ? {} : { body }),
  });
  return { status: res.status, json: (await res.json()) as T };
}

describe("admin API without ADMIN_TOKEN", () => {
  it("is disabled: every /admin route answers 404, even with a token", async () => {
    const gw = await startTestGateway();
    try {
      for (const [path, opts] of [
        ["/admin/prompts", {}],
        ["/admin/prompts", { yaml: V100_YAML }],
        ["/admin/render", { body: { ref: "x" } }],
      ] as const) {
        const { status, json } = await call(gw, path, opts);
        expect(status).toBe(404);
        expect(json.error.code).toBe("not_found");
      }
    } finally {
      await gw.close();
    }
  });
});

describe("admin API", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ env: { ADMIN_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    await gw.close();
  });

  it("answers 401 without the admin token or with a wrong one, on known and unknown routes", async () => {
    for (const token of [null, "wrong", `${TOKEN}x`, ""]) {
      const { status, json } = await call(gw, "/admin/prompts", { token });
      expect(status).toBe(401);
      expect(json.error.type).toBe("authentication_error");
    }
    expect((await call(gw, "/admin/nothing-here", { token: "wrong" })).status).toBe(401);
    expect((await call(gw, "/admin/nothing-here")).status).toBe(404);
  });

  it("tells caches on the way to keep nothing it answers", async () => {
    const res = await fetch(`${gw.url}/admin/prompts`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    await res.arrayBuffer();
  });

  it("registers prompt files as YAML or JSON, refuses changed versions (409) and invalid files (400)", async () => {
    const first = await call(gw, "/admin/prompts", { yaml: V100_YAML, actor: "alice" });
    expect([first.status, first.json]).toEqual([
      201,
      { name: "summarization", version: "1.0.0", hash: expect.any(String), created: true },
    ]);
    expect((await call(gw, "/admin/prompts", { yaml: V100_YAML })).json.created).toBe(false);
    expect((await call(gw, "/admin/prompts", { yaml: V110_YAML, actor: "alice" })).status).toBe(201);
    expect((await call(gw, "/admin/prompts", { body: GREETER, actor: "bob" })).status).toBe(201);
    expect((await call(gw, "/admin/prompts", { body: { ...GREETER, version: "1.0.1" } })).status).toBe(201);

    const changed = await call(gw, "/admin/prompts", { yaml: V100_YAML.replace("two sentences", "three sentences") });
    expect(changed.status).toBe(409);
    expect(changed.json.error.message).toMatch(/immutable/);

    const badField = await call(gw, "/admin/prompts", {
      yaml: V110_YAML.replace("1.1.0", "1.2.0").replace("type: integer", "type: int"),
    });
    expect(badField.status).toBe(400);
    expect(badField.json.error.message).toMatch(/^body: variables\.target_sentences\.type: expected one of/);
    // Parses, but does not compile: refused before anything is registered.
    const badTemplate = await call(gw, "/admin/prompts", {
      body: { ...GREETER, version: "1.1.0", messages: [{ role: "user", content: "{{ who | nosuchfilter }}" }] },
    });
    expect([badTemplate.status, badTemplate.json.error.message]).toEqual([
      400,
      expect.stringMatching(/greeter@1\.1\.0: messages\[0\]\.content: .*unknown filter/),
    ]);
    expect((await call(gw, "/admin/prompts", { body: "[1, 2]" })).status).toBe(400);
    expect((await call(gw, "/admin/prompts", { body: "{nope" })).json.error.code).toBe("invalid_json");

    const list = await call<{ prompts: { name: string; versions: string[] }[] }>(gw, "/admin/prompts");
    expect(list.json.prompts.map((p) => [p.name, p.versions])).toEqual([
      ["greeter", ["1.0.0", "1.0.1"]],
      ["summarization", ["1.0.0", "1.1.0"]],
    ]);
    expect((await call(gw, "/admin/prompts/summarization")).json.labels).toEqual({
      dev: null,
      staging: null,
      prod: null,
    });
    expect((await call(gw, "/admin/prompts/summarization/versions/1.1.0")).json).toMatchObject({
      variables: { target_sentences: { default: 2 } },
    });
    expect((await call(gw, "/admin/prompts/summarization/versions/9.0.0")).status).toBe(404);
    expect((await call(gw, "/admin/prompts/ghost")).status).toBe(404);
  });

  it("promotes through staging, forces only when asked, rolls back, and records every write", async () => {
    const promote = (body: unknown, actor?: string) =>
      call(gw, "/admin/prompts/summarization/promote", { body, ...(actor ? { actor } : {}) });
    const refused = await promote({ version: "1.1.0", env: "prod", approved_by: "carol" });
    expect([refused.status, refused.json.error.message]).toEqual([409, expect.stringMatching(/never been on staging/)]);
    expect((await promote({ version: "1.1.0", env: "qa", approved_by: "carol" })).json.error.param).toBe("env");
    expect((await promote({ version: "1.1.0", env: "prod", approved_by: " " })).status).toBe(400);
    expect((await promote({ version: "1.1.0", env: "prod", approved_by: "carol", extra: 1 })).status).toBe(400);

    expect((await promote({ version: "1.0.0", env: "staging", approved_by: "carol" })).json).toMatchObject({
      changed: true,
      from: null,
      to: "1.0.0",
    });
    expect((await promote({ version: "1.0.0", env: "prod", approved_by: "carol" })).json).toMatchObject({
      changed: true,
      forced: false,
    });
    expect((await promote({ version: "1.1.0", env: "prod", approved_by: "dave", force: true })).json).toMatchObject({
      from: "1.0.0",
      to: "1.1.0",
      forced: true,
    });

    const back = await call(gw, "/admin/prompts/summarization/rollback", { body: { env: "prod" }, actor: "erin" });
    expect(back.json).toEqual({ name: "summarization", env: "prod", actor: "erin", from: "1.1.0", to: "1.0.0" });
    expect((await call(gw, "/admin/prompts/summarization/rollback", { body: { env: "dev" } })).status).toBe(409);

    const history = await call<{ entries: AuditEntry[] }>(gw, "/admin/prompts/summarization/history");
    expect(
      history.json.entries.map((e) => [e.action, e.actor, e.env ?? null, e.to ?? e.version, e.forced ?? false]),
    ).toEqual([
      ["register", "alice", null, "1.0.0", false],
      ["register", "alice", null, "1.1.0", false],
      ["promote", "carol", "staging", "1.0.0", false],
      ["promote", "carol", "prod", "1.0.0", false],
      ["promote", "dave", "prod", "1.1.0", true],
      ["rollback", "erin", "prod", "1.0.0", false],
    ]);
    expect((await call(gw, "/admin/prompts/greeter/history")).json.entries).toMatchObject([
      { action: "register", actor: "bob", version: "1.0.0" },
      { action: "register", actor: "admin-api", version: "1.0.1" },
    ]);
  });

  it("renders and diffs as the CLI does; variables stay data", async () => {
    const out = await call(gw, "/admin/render", {
      body: { ref: "summarization@1.1.0", vars: { text: "{{ 7*7 }}", target_sentences: 1 } },
    });
    expect(out.status).toBe(200);
    expect(out.json).toMatchObject({
      name: "summarization",
      version: "1.1.0",
      model: "gpt-4o-mini",
      params: { temperature: 0.3, max_tokens: 200 },
    });
    expect(out.json.messages).toEqual([
      { role: "system", content: "Summarize in exactly 1 sentence.\n\n" },
      { role: "user", content: "{{ 7*7 }}" },
    ]);
    const viaProd = await call(gw, "/admin/render", { body: { ref: "summarization", vars: { text: "hi" } } });
    expect([viaProd.json.version, viaProd.json.via]).toEqual(["1.0.0", "prod"]);
    expect((await call(gw, "/admin/render", { body: { ref: "summarization@1.1.0", vars: {} } })).json.error.param).toBe(
      "prompt_variables.text",
    );
    expect((await call(gw, "/admin/render", { body: { ref: "summarization", vars: [1] } })).json.error.param).toBe(
      "vars",
    );

    const d = await call(gw, "/admin/prompts/summarization/diff?from=1.0.0&to=1.1.0");
    expect(d.json).toMatchObject({ changed: true, fields: ["variables", "messages"] });
    expect(d.json.patch).toContain("+  target_sentences:");
    expect((await call(gw, "/admin/prompts/summarization/diff?from=1.0.0")).status).toBe(400);
  });

  it("refuses admin bodies over 1 MB with 413", async () => {
    const res = await call(gw, "/admin/render", { body: { ref: "x", vars: { pad: "x".repeat(1024 * 1024) } } });
    expect([res.status, res.json.error.code]).toEqual([413, "body_too_large"]);
  });

  it("serves a prompt registered and promoted through /admin to inference requests", async () => {
    await call(gw, "/admin/prompts/greeter/promote", {
      body: { version: "1.0.0", env: "staging", approved_by: "carol" },
    });
    const answer = await eventually(
      async () => {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "x-prompt-ref": "greeter@staging",
            "x-prompt-vars": JSON.stringify({ who: "Ada" }),
          },
          body: JSON.stringify({ model: "mock/echo", messages: [{ role: "user", content: "hello" }] }),
        });
        return res.status === 200 ? ((await res.json()) as { choices: { message: { content: string } }[] }) : undefined;
      },
      5_000,
      "the gateway to serve greeter@staging",
    );
    expect(answer.choices[0]?.message.content).toContain("system: Greet Ada warmly.");
  });
});
