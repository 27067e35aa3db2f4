// Canary weights over the admin API: GET the split, PUT new weights (refused with 400 when the gateway
// would ignore them), and the running gateway serving the canary to some users within 1 s.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ErrorBody } from "../gateway/errors/gateway-error.ts";
import type { AuditEntry } from "../gateway/registry/records.ts";
import { eventually } from "./support/registry-fixtures.ts";
import type { WeightsChange, WeightsView } from "../gateway/registry/weights-ops.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

const TOKEN = "admin-s3cret";
const greet = (version: string) => ({
  name: "greet",
  version,
  variables: {},
  messages: [{ role: "system", content: `greeting v${version}` }],
});

async function call<T>(
  gw: TestGateway,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as T };
}

async function served(gw: TestGateway, user: string): Promise<string | null> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-prompt-ref": "greet", "x-user-id": user },
    body: JSON.stringify({ model: "mock/echo" }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  return res.headers.get("x-prompt-version");
}

const users = Array.from({ length: 100 }, (_, i) => `user-${i}`);

describe("admin API: canary weights", () => {
  let gw: TestGateway;
  const path = "/admin/prompts/greet/weights/prod";
  beforeAll(async () => {
    gw = await startTestGateway({ env: { ADMIN_TOKEN: TOKEN } });
    for (const v of ["1.0.0", "1.1.0"]) expect((await call(gw, "POST", "/admin/prompts", greet(v))).status).toBe(201);
    for (const env of ["staging", "prod"]) {
      expect(
        (await call(gw, "POST", "/admin/prompts/greet/promote", { version: "1.0.0", env, approved_by: "t" })).status,
      ).toBe(200);
    }
  });
  afterAll(async () => {
    await gw.close();
  });

  it("reads the split, refuses bad weights with 400, and needs the token", async () => {
    const empty = await call<WeightsView>(gw, "GET", path);
    expect([empty.status, empty.json]).toEqual([
      200,
      {
        name: "greet",
        env: "prod",
        stable: "1.0.0",
        raw: {},
        shares: [{ version: "1.0.0", weight: null, buckets: 10000, percent: 100 }],
        problems: [],
        notes: [],
      },
    ]);
    expect((await call(gw, "GET", "/admin/prompts/ghost/weights/prod")).status).toBe(404);
    expect((await call(gw, "GET", "/admin/prompts/greet/weights/qa")).status).toBe(400);
    expect((await fetch(`${gw.url}${path}`)).status).toBe(401);

    const refused = await call<ErrorBody>(gw, "PUT", path, { weights: { "1.0.0": 90, "9.9.9": 10, "1.1.0": -1 } });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: "invalid_request", param: "weights" });
    expect(refused.json.error.message).toMatch(
      /version "9\.9\.9" is not registered.*weight "-1" for 1\.1\.0 is negative|weight "-1" for 1\.1\.0 is negative.*version "9\.9\.9" is not registered/,
    );
    expect((await call<ErrorBody>(gw, "PUT", path, { weights: { "1.0.0": "90" } })).json.error.param).toBe(
      "weights.1.0.0",
    );
    expect((await call(gw, "PUT", path, { weights: {}, extra: 1 })).status).toBe(400);
    expect((await call(gw, "PUT", path, "{nope")).status).toBe(400);
    expect((await call(gw, "PUT", "/admin/prompts/greet/weights/dev", { weights: { "1.0.0": 1 } })).status).toBe(409);
    expect((await call<WeightsView>(gw, "GET", path)).json.raw).toEqual({});
  });

  it("applies PUT weights on the running gateway within 1 s, and {} stops the canary", async () => {
    for (const u of users) expect(await served(gw, u)).toBe("1.0.0");
    const put = await call<WeightsChange & { actor: string }>(
      gw,
      "PUT",
      path,
      { weights: { "1.0.0": 50, "1.1.0": 50 } },
      { "x-actor": "sre-bob" },
    );
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      changed: true,
      actor: "sre-bob",
      previous: {},
      raw: { "1.0.0": "50", "1.1.0": "50" },
    });
    expect(put.json.shares.map((s) => [s.version, s.buckets])).toEqual([
      ["1.0.0", 5000],
      ["1.1.0", 5000],
    ]);

    const started = performance.now();
    const canaryUsers = await eventually(
      async () => {
        const got = await Promise.all(users.map((u) => served(gw, u)));
        const canary = users.filter((_, i) => got[i] === "1.1.0");
        return canary.length > 0 ? canary : undefined;
      },
      1000,
      "the canary to be served",
    );
    expect(performance.now() - started).toBeLessThan(1000);
    // About half, and sticky: the same users keep getting it.
    expect(canaryUsers.length).toBeGreaterThan(25);
    expect(canaryUsers.length).toBeLessThan(75);
    for (const u of canaryUsers.slice(0, 10)) expect(await served(gw, u)).toBe("1.1.0");

    const history = await call<{ entries: AuditEntry[] }>(gw, "GET", "/admin/prompts/greet/history");
    expect(history.json.entries.filter((e) => e.action === "weights")).toMatchObject([
      { actor: "sre-bob", env: "prod", from: "{}", to: '{"1.0.0":"50","1.1.0":"50"}' },
    ]);

    const cleared = await call<WeightsChange & { actor: string }>(gw, "PUT", path, { weights: {} });
    expect(cleared.json).toMatchObject({
      changed: true,
      actor: "admin-api",
      raw: {},
      shares: [{ version: "1.0.0", buckets: 10000 }],
    });
    await eventually(
      async () =>
        (await Promise.all(canaryUsers.map((u) => served(gw, u)))).every((v) => v === "1.0.0") ? true : undefined,
      1000,
      "the canary to stop",
    );
  });
});
