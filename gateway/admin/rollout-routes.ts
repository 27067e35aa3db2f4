// The rollouts of the admin API (/admin/rollouts, /admin/prompts/:name/rollouts...): the rollout service over JSON,
// with the same rules as `promptgate rollout`. Bodies are checked here with zod; the service's RegistryErrors answer
// 400, 404 or 409 through the one error renderer. Each rollout is answered as stored, with the commands its
// state allows now (`allowed_commands`, machine.ts), so that no client has to know the state machine's rules.
import type { Hono } from "hono";
import { z } from "zod";
import { GatewayError } from "../errors/gateway-error.ts";
import type { AppEnv } from "../http/context.ts";
import { ENVIRONMENTS } from "../registry/environments.ts";
import type { Registry } from "../registry/registry.ts";
import { guardrailSettingsSchema, type GuardrailOverrides } from "../rollouts/record.ts";
import { ROLLOUT_COMMANDS, rolloutView } from "../rollouts/machine.ts";
import { createRolloutService } from "../rollouts/rollout-service.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../support/clock.ts";
import { parseDuration } from "../support/duration.ts";
import type { Logger } from "../support/logger.ts";
import { actorOf, jsonBody, optionalJsonBody } from "./admin-body.ts";

const by = z.string().trim().min(1, "must not be empty").max(200);

/** `"30m"` (90s, 2h, 1d ...) or whole ms. */
const duration = z.union([z.number().int().nonnegative(), z.string()]).transform((value, ctx) => {
  if (typeof value === "number") return value;
  const ms = parseDuration(value);
  if (ms === null) {
    ctx.addIssue({
      code: "custom",
      message: `must be a duration such as 90s, 30m, 2h or 1d, or whole ms, got "${value}"`,
    });
    return z.NEVER;
  }
  return ms;
});

// Any subset of the guardrail settings, one level deep per metric (record.ts checks the values once merged).
const g = guardrailSettingsSchema.shape;
const hardLimits = g.hard_limits.shape;
const guardrailOverrides = z.strictObject({
  alpha: g.alpha.exactOptional(),
  tuning_n: g.tuning_n.exactOptional(),
  min_samples: g.min_samples.exactOptional(),
  error_rate: z
    .strictObject({ enabled: z.boolean().exactOptional(), margin: g.error_rate.shape.margin.exactOptional() })
    .exactOptional(),
  p95_latency: z
    .strictObject({
      enabled: z.boolean().exactOptional(),
      margin: g.p95_latency.shape.margin.exactOptional(),
      quantile: g.p95_latency.shape.quantile.exactOptional(),
      threshold_min_requests: g.p95_latency.shape.threshold_min_requests.exactOptional(),
    })
    .exactOptional(),
  cost_per_request: z
    .strictObject({ enabled: z.boolean().exactOptional(), margin: g.cost_per_request.shape.margin.exactOptional() })
    .exactOptional(),
  quality: z
    .strictObject({ enabled: z.boolean().exactOptional(), margin: g.quality.shape.margin.exactOptional() })
    .exactOptional(),
  hard_limits: z
    .strictObject({
      error_rate: hardLimits.error_rate.exactOptional(),
      p95_latency: hardLimits.p95_latency.exactOptional(),
    })
    .exactOptional(),
}) satisfies z.ZodType<GuardrailOverrides>;

export const startRolloutBody = z.strictObject({
  version: z.string().min(1),
  env: z.enum(ENVIRONMENTS),
  // Whole numbers here; the service says what a rollout's steps must be (1..100, increasing).
  steps: z.array(z.number().int()).exactOptional(),
  hold: duration.exactOptional(),
  min_users: z.number().int().nonnegative().exactOptional(),
  max_duration: duration.exactOptional(),
  guardrails: guardrailOverrides.exactOptional(),
  by: by.exactOptional(),
});

export const rolloutCommandBody = z.strictObject({ by: by.exactOptional() });

export interface RolloutRouteDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Who a write is recorded as, scrubbed of secrets. */
  readonly who: (name: string) => string;
}

/** Adds the rollout routes to the admin app (behind its auth). */
export function registerRolloutRoutes(admin: Hono<AppEnv>, deps: RolloutRouteDeps): void {
  const { logger, registry, who } = deps;
  const rollouts = createRolloutService({ store: deps.store, registry, clock: deps.clock });

  /** `?active=true` lists the active rollouts only; `?env=` one environment's. */
  admin.get("/rollouts", async (c) => {
    const active = c.req.query("active");
    if (active !== undefined && active !== "true" && active !== "false")
      throw new GatewayError("invalid_request", `active must be true or false, got "${active}"`, { param: "active" });
    const env = c.req.query("env");
    const list = await rollouts.list({ ...(env === undefined ? {} : { env }), active: active === "true" });
    return c.json({ rollouts: list.map(rolloutView) });
  });

  /** The prompt's current-or-last rollouts and the finished ones before them, newest first; `?env=` one environment. */
  admin.get("/prompts/:name/rollouts", async (c) => {
    const name = c.req.param("name");
    const env = c.req.query("env");
    const list = await rollouts.history(name, env);
    if (list.length === 0 && (await registry.versions(name)).length === 0)
      throw new GatewayError("not_found", `unknown prompt "${name}"`, { param: "name" });
    return c.json({ rollouts: list.map(rolloutView) });
  });

  admin.post("/prompts/:name/rollouts", async (c) => {
    const name = c.req.param("name");
    const body = await jsonBody(c, startRolloutBody);
    const actor = who(body.by ?? actorOf(c));
    const record = await rollouts.start({
      name,
      version: body.version,
      env: body.env,
      by: actor,
      ...(body.steps === undefined ? {} : { steps: body.steps }),
      ...(body.hold === undefined ? {} : { holdMs: body.hold }),
      ...(body.min_users === undefined ? {} : { minUsers: body.min_users }),
      ...(body.max_duration === undefined ? {} : { maxDurationMs: body.max_duration }),
      ...(body.guardrails === undefined ? {} : { guardrails: body.guardrails }),
    });
    logger.info("admin: rollout started", {
      prompt: name,
      env: record.env,
      rollout: record.id,
      stable: record.stable_version,
      canary: record.canary_version,
      actor,
    });
    return c.json(rolloutView(record), 201);
  });

  admin.get("/prompts/:name/rollouts/:env", async (c) => {
    const { name, env } = c.req.param();
    const record = await rollouts.get(name, env);
    if (record === null) throw new GatewayError("not_found", `${name} has no rollout on ${env}`, { param: "env" });
    return c.json(rolloutView(record));
  });

  /** Every evaluation of the current-or-last rollout, oldest first (the record keeps the last holds only). */
  admin.get("/prompts/:name/rollouts/:env/evaluations", async (c) => {
    const { name, env } = c.req.param();
    const { rollout, evaluations } = await rollouts.evaluations(name, env);
    return c.json({ rollout: rollout.id, evaluations });
  });

  for (const command of ROLLOUT_COMMANDS) {
    admin.post(`/prompts/:name/rollouts/:env/${command}`, async (c) => {
      const { name, env } = c.req.param();
      const body = await optionalJsonBody(c, rolloutCommandBody);
      const actor = who(body.by ?? actorOf(c));
      const record = await rollouts.command(name, env, command, actor);
      logger.info("admin: rollout command", {
        prompt: name,
        env,
        rollout: record.id,
        command,
        state: record.state,
        actor,
      });
      return c.json(rolloutView(record));
    });
  }
}
