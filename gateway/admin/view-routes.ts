// Admin routes that read rather than change, added for the console but plain JSON like the rest: every prompt
// at a glance, the audit history across prompts, the aggregates over time, and what a promotion, a rollback or a
// new split would do before it is done (the same checks the writes run: nothing here decides on its own).
import { Hono } from "hono";
import type { AppEnv } from "../http/context.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { auditLog } from "../registry/audit-log.ts";
import type { Registry } from "../registry/registry.ts";
import { rollbackPreview } from "../registry/rollback-preview.ts";
import { checkWeights } from "../registry/weights-ops.ts";
import { promptsOverview } from "../stats/prompt-overview.ts";
import { versionSeries } from "../stats/series.ts";
import { parseWindow } from "../stats/stats-ops.ts";
import type { AdminDeps } from "./admin-routes.ts";
import { jsonBody, weightsBody } from "./admin-body.ts";

/** A query parameter that must be there. */
function required(value: string | undefined, param: string, example: string): string {
  if (value === undefined || value === "")
    throw new GatewayError("invalid_request", `${param} is required: ?${param}=${example}`, { param });
  return value;
}

export function createViewRoutes(deps: AdminDeps, registry: Registry): Hono<AppEnv> {
  const view = new Hono<AppEnv>();

  /** `?since=1h`: requests and cost per environment over that window. */
  view.get("/overview", async (c) =>
    c.json(await promptsOverview(deps.store, registry, parseWindow(c.req.query("since") ?? "1h"), deps.clock.now())),
  );

  /** `?prompt=&actor=&action=&limit=`, newest first. */
  view.get("/audit", async (c) => {
    const given = (key: string): string | undefined => c.req.query(key) || undefined;
    const [prompt, actor, action, limit] = [given("prompt"), given("actor"), given("action"), given("limit")];
    const filter = {
      ...(prompt === undefined ? {} : { prompt }),
      ...(actor === undefined ? {} : { actor }),
      ...(action === undefined ? {} : { action }),
      ...(limit === undefined ? {} : { limit: Number(limit) }),
    };
    return c.json(await auditLog(registry, filter));
  });

  /** `?env=&since=1h&step=5m&metric=quality`: each version's aggregates per step. */
  view.get("/prompts/:name/series", async (c) => {
    const env = required(c.req.query("env"), "env", "prod");
    const step = c.req.query("step");
    const metric = c.req.query("metric");
    const options = {
      ...(step === undefined ? {} : { stepMs: parseWindow(step) }),
      ...(metric === undefined ? {} : { metric }),
    };
    const windowMs = parseWindow(c.req.query("since") ?? "1h");
    return c.json(
      await versionSeries(deps.store, registry, c.req.param("name"), env, windowMs, deps.clock.now(), options),
    );
  });

  /** What `POST .../promote` would decide now: each rule's verdict. */
  view.get("/prompts/:name/promote", async (c) => {
    const version = required(c.req.query("version"), "version", "1.1.0");
    const env = required(c.req.query("env"), "env", "prod");
    return c.json(await registry.checkPromotion(c.req.param("name"), version, env));
  });

  /** What `POST .../rollback` would do now. */
  view.get("/prompts/:name/rollback", async (c) =>
    c.json(await rollbackPreview(registry, c.req.param("name"), required(c.req.query("env"), "env", "prod"))),
  );

  /** The split a `PUT .../weights/:env` with this body would serve, or the 400 it would get; writes nothing. */
  view.post("/prompts/:name/weights/:env/check", async (c) => {
    const { name, env } = c.req.param();
    const body = await jsonBody(c, weightsBody);
    return c.json(await checkWeights(registry, name, env, body.weights));
  });

  return view;
}
