// createApp(deps): the HTTP surface. No side effects here; server.ts serves it.
import { randomUUID } from "node:crypto";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { Hono } from "hono";
import { createAdminRoutes } from "./admin/admin-routes.ts";
import { createConsoleRoutes } from "./console/console-routes.ts";
import type { Deps } from "./deps.ts";
import type { AppEnv } from "./http/context.ts";
import { OpenStreams } from "./http/open-streams.ts";
import { toGatewayError } from "./http/error-response.ts";
import { answerAndLinger, newLingerStats } from "./http/lingering-close.ts";
import { GatewayError, errorBody, type ErrorBody } from "./errors/gateway-error.ts";
import { MOCK_MODELS } from "./providers/mock.ts";
import { createAuthenticator } from "./proxy/auth.ts";
import { feedbackRoute } from "./proxy/feedback-route.ts";
import { inferenceRoute, type InferenceServices } from "./proxy/inference-route.ts";
import { advertisedModels } from "./proxy/model-route.ts";
import { passthroughRoute } from "./proxy/passthrough-route.ts";
import { createRelayScrubs } from "./proxy/relay-scrub.ts";
import { RetryBudget } from "./proxy/retry.ts";
import type { Scrubber } from "./support/scrubber.ts";
import { createMetrics } from "./telemetry/metrics.ts";
import { countLiveSamples } from "./telemetry/live-metrics.ts";
import { countRedactions } from "./telemetry/redaction-metric.ts";
import { newRecord } from "./telemetry/request-record.ts";
import { finishRequestSpan, startRequestSpan } from "./telemetry/span.ts";

/** `streams`: the streams being relayed, for the server's drain deadline to end (server.ts). */
export function createApp(deps: Deps, streams = new OpenStreams()): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { limits } = deps.config;
  const lingering = newLingerStats();
  const metrics = createMetrics({
    lingering,
    invalidWeights: () => deps.prompts.splitStats.invalidChanges,
    invalidKeys: () => deps.prompts.invalidKeys(),
    aggregates: deps.aggregates,
    spans: deps.spanExport,
    registry: () => {
      const health = deps.prompts.health();
      return { behind: health.behind !== null, regressions: health.regressions };
    },
  });
  const services: InferenceServices = {
    auth: createAuthenticator(deps.config),
    scrub: createRelayScrubs(deps.scrubber),
    forward: {
      upstream: deps.upstream,
      budget: new RetryBudget(deps.config.limits.retry_budget_ratio),
      clock: deps.clock,
      random: deps.random,
      limits: deps.config.limits,
      logger: deps.logger,
      retried: metrics.retried,
    },
    streams,
  };
  countRedactions(metrics.registry, deps.scrubber);
  countLiveSamples(metrics.registry, deps.liveSamples);
  app.use(async (c, next) => {
    const id = randomUUID();
    c.set("requestId", id);
    // Set on the socket's response so it also rides on answers written straight to it (streams).
    c.env.outgoing.setHeader("x-request-id", id);
    const record = newRecord(deps.clock.now());
    c.set("record", record);
    if (!c.req.path.startsWith("/v1/")) return next();
    const span = startRequestSpan(deps.tracer, c.env.incoming.headers, record.startedAt);
    c.set("span", span);
    await next();
    const out = c.env.outgoing;
    // A client gone before its answer was complete is counted as 499, as nginx does.
    const gone = out.destroyed && !out.writableFinished;
    const status = gone ? 499 : out.headersSent ? out.statusCode : c.res.status;
    if (gone) record.errorType = "client_closed";
    const now = deps.clock.now();
    metrics.record(record, status, now);
    deps.aggregates.record(record, status, now);
    deps.liveSamples.record(record, status, now);
    finishRequestSpan(span, record, status, now, deps.scrubber);
  });

  app.onError((err, c) => {
    const e = toGatewayError(err);
    c.get("record").errorType = e.code;
    // A client that went away is not a provider failure, whatever the aborted call threw.
    const clientGone = c.env.outgoing.destroyed;
    const log = e.status >= 500 && !clientGone ? deps.logger.warn : deps.logger.debug;
    log("request failed", {
      request_id: c.get("requestId"),
      status: e.status,
      code: e.code,
      message: e.message,
      cause: causeOf(e),
    });
    if (c.env.outgoing.headersSent) return new Response(null);
    // The message may quote the request (a model, a prompt name), and so whatever secret it held.
    const body = scrubbedErrorBody(e, deps.scrubber);
    // Refused before the whole body arrived (too large, past a JSON limit, a bad key): the client may
    // still be sending, so answer, read the rest away for a while, then close.
    if (e.code === "body_too_large" || !c.env.incoming.complete) {
      const bounds = { ms: limits.linger_ms, bytes: limits.linger_bytes };
      answerAndLinger(c.env.incoming, c.env.outgoing, e.status, JSON.stringify(body), bounds, lingering);
      return RESPONSE_ALREADY_SENT;
    }
    return c.json(body, e.status as 400);
  });
  app.notFound((c) =>
    c.json(
      scrubbedErrorBody(new GatewayError("not_found", `Unknown route ${c.req.method} ${c.req.path}`), deps.scrubber),
      404,
    ),
  );

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/metrics", async (c) =>
    c.body(deps.scrubber.text(await metrics.registry.metrics(), "metrics"), 200, {
      "content-type": metrics.contentType,
    }),
  );
  app.get("/readyz", (c) => {
    const { ready, draining } = deps.lifecycle;
    // A store that is down or behind keeps a replica ready: it serves its last good snapshot.
    const registry = deps.prompts.health();
    if (ready && !draining && deps.prompts.ready()) return c.json({ status: "ready", registry });
    return c.json({ status: draining ? "draining" : ready ? "no prompt snapshot yet" : "starting", registry }, 503);
  });

  app.post("/v1/chat/completions", inferenceRoute(deps, services, "chat"));
  app.post("/v1/completions", inferenceRoute(deps, services, "completions"));
  app.post("/v1/embeddings", inferenceRoute(deps, services, "embeddings"));
  app.post("/v1/responses", inferenceRoute(deps, services, "responses"));
  app.post("/v1/feedback", feedbackRoute(deps, services.auth));
  app.get("/v1/models", (c) => {
    services.auth.check(c.env.incoming.headers.authorization);
    const data = advertisedModels(deps.config.routes, MOCK_MODELS).map((id) => ({
      id,
      object: "model",
      created: 0,
      owned_by: "promptgate",
    }));
    return c.json({ object: "list", data });
  });
  app.all("/v1/*", passthroughRoute(deps, services));
  app.route("/admin", createAdminRoutes(deps));
  // The console only where the admin API it calls is on: without ADMIN_TOKEN, /console is an unknown route.
  if (deps.settings.adminToken !== undefined) app.route("/", createConsoleRoutes());
  return app;
}

function scrubbedErrorBody(e: GatewayError, scrubber: Scrubber): ErrorBody {
  const body = errorBody(e);
  body.error.message = scrubber.text(body.error.message, "response");
  return body;
}

/** The code of a low-level cause (ECONNRESET, UND_ERR_...), never its message, which may hold a URL. */
function causeOf(e: GatewayError): string | undefined {
  const cause = e.cause;
  if (cause !== null && typeof cause === "object" && "code" in cause && typeof cause.code === "string")
    return cause.code;
  return cause instanceof Error ? cause.name : undefined;
}
