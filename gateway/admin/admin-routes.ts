// The admin API mounted at /admin: the registry over JSON, with the same operations and rules as the
// CLI (both go through prompt-ops and the registry). Errors are thrown; app.onError renders them.
import { Hono, type Context } from "hono";
import type { Settings } from "../config/settings.ts";
import type { AppEnv } from "../http/context.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { createRegistry } from "../registry/registry.ts";
import {
  describePrompt,
  diffVersions,
  listPrompts,
  promptEvals,
  promptHistory,
  pushVersions,
  renderRef,
} from "../registry/prompt-ops.ts";
import { parseWindow, versionStats } from "../stats/stats-ops.ts";
import { getWeights, setWeights } from "../registry/weights-ops.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../support/clock.ts";
import type { Logger } from "../support/logger.ts";
import type { Scrubber } from "../support/scrubber.ts";
import { adminAuth } from "./admin-auth.ts";
import { actorOf, jsonBody, promoteBody, promptFileBody, renderBody, rollbackBody, weightsBody } from "./admin-body.ts";
import { restoreRoute } from "./restore-route.ts";
import { registerRolloutRoutes } from "./rollout-routes.ts";
import { createViewRoutes } from "./view-routes.ts";

/** What the admin API works on: the store (through the registry), the clock, the log and three settings. */
export interface AdminDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Names a write is recorded under are scrubbed: the audit history is kept forever and read back. */
  readonly scrubber: Scrubber;
  readonly settings: Pick<Settings, "adminToken" | "gatewayEnv" | "statePath">;
}

export function createAdminRoutes(deps: AdminDeps): Hono<AppEnv> {
  const registry = createRegistry(deps.store, deps.clock);
  const { logger } = deps;
  /** Who a write is recorded as (the `X-Actor` header, a body's `actor` or `approved_by`), scrubbed. */
  const who = (name: string): string => deps.scrubber.text(name, "admin");
  const admin = new Hono<AppEnv>();
  admin.use(adminAuth(deps.settings.adminToken));

  admin.get("/prompts", async (c) => c.json({ prompts: await listPrompts(registry) }));

  admin.get("/prompts/:name", async (c) => c.json(await describePrompt(registry, c.req.param("name"))));

  admin.get("/prompts/:name/versions/:version", async (c) => {
    const { name, version } = c.req.param();
    const found = await registry.get(name, version);
    if (found === null)
      throw new GatewayError("not_found", `prompt ${name} has no registered version ${version}`, { param: "version" });
    return c.json(found);
  });

  admin.post("/prompts", async (c) => {
    const version = await promptFileBody(c);
    const actor = who(actorOf(c));
    const [outcome] = await pushVersions(registry, [version], actor);
    if (outcome === undefined) throw new GatewayError("internal_error", "registration produced no outcome");
    if (outcome.status === "error") throw outcome.error;
    const created = outcome.status === "created";
    if (created) logger.info("admin: prompt registered", { prompt: version.name, version: version.version, actor });
    return c.json({ name: version.name, version: version.version, hash: version.hash, created }, created ? 201 : 200);
  });

  admin.post("/prompts/:name/promote", async (c) => {
    const name = c.req.param("name");
    const body = await jsonBody(c, promoteBody);
    const approvedBy = who(body.approved_by);
    const result = await registry.promote(name, body.version, body.env, {
      approvedBy,
      ...(body.force === undefined ? {} : { force: body.force }),
    });
    if (result.changed)
      logger.info("admin: label promoted", {
        prompt: name,
        env: body.env,
        from: result.from,
        to: result.to,
        forced: result.forced,
        approved_by: approvedBy,
      });
    return c.json({ name, env: body.env, approved_by: approvedBy, ...result });
  });

  admin.post("/prompts/:name/rollback", async (c) => {
    const name = c.req.param("name");
    const body = await jsonBody(c, rollbackBody);
    const actor = who(body.actor ?? actorOf(c));
    const result = await registry.rollback(name, body.env, { actor });
    logger.info("admin: label rolled back", { prompt: name, env: body.env, from: result.from, to: result.to, actor });
    return c.json({ name, env: body.env, actor, ...result });
  });

  admin.get("/prompts/:name/weights/:env", async (c) => {
    const { name, env } = c.req.param();
    return c.json(await getWeights(deps.store, registry, name, env));
  });

  /** The stats readout; `env` from the path or `?env=`, with `?since=`, `?by=segment`, `?metric=`. */
  const statsOf = async (c: Context<AppEnv>, name: string, env: string | undefined): Promise<Response> => {
    if (env === undefined || env === "")
      throw new GatewayError("invalid_request", "env is required: ?env=prod (dev, staging, prod or pinned)", {
        param: "env",
      });
    const windowMs = parseWindow(c.req.query("since") ?? "1h");
    const by = c.req.query("by");
    if (by !== undefined && by !== "segment")
      throw new GatewayError("invalid_request", `by must be segment, got "${by}"`, { param: "by" });
    const metric = c.req.query("metric");
    const options = {
      ...(by === undefined ? {} : { by: "segment" as const }),
      ...(metric === undefined ? {} : { metric }),
    };
    return c.json(await versionStats(deps.store, registry, name, env, windowMs, deps.clock.now(), options));
  };
  admin.get("/prompts/:name/stats", (c) => statsOf(c, c.req.param("name"), c.req.query("env")));
  admin.get("/prompts/:name/stats/:env", (c) => statsOf(c, c.req.param("name"), c.req.param("env")));

  admin.put("/prompts/:name/weights/:env", async (c) => {
    const { name, env } = c.req.param();
    const body = await jsonBody(c, weightsBody);
    const actor = who(actorOf(c));
    const result = await setWeights(deps.store, registry, deps.clock, name, env, body.weights, actor);
    if (result.changed)
      logger.info("admin: canary weights set", { prompt: name, env, from: result.previous, to: result.raw, actor });
    return c.json({ ...result, actor });
  });

  admin.get("/prompts/:name/history", async (c) => {
    const name = c.req.param("name");
    return c.json({ name, entries: await promptHistory(registry, name) });
  });

  /** The eval records of a prompt, oldest first, with the suite the promotion gate holds; `?version=` filters. */
  admin.get("/prompts/:name/evals", async (c) => {
    const name = c.req.param("name");
    const version = c.req.query("version");
    return c.json(await promptEvals(registry, name, version));
  });

  admin.get("/prompts/:name/diff", async (c) => {
    const from = c.req.query("from");
    const to = c.req.query("to");
    if (!from || !to)
      throw new GatewayError("invalid_request", "diff needs both ?from=<version>&to=<version>", {
        param: from ? "to" : "from",
      });
    return c.json(await diffVersions(registry, c.req.param("name"), from, to));
  });

  admin.post("/registry/restore", restoreRoute(deps));

  registerRolloutRoutes(admin, { store: deps.store, clock: deps.clock, logger, registry, who });
  admin.route("/", createViewRoutes(deps, registry));

  admin.post("/render", async (c) => {
    const body = await jsonBody(c, renderBody);
    return c.json(await renderRef(registry, body.ref, body.vars, deps.settings.gatewayEnv));
  });

  return admin;
}
