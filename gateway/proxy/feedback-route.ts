// POST /v1/feedback: a quality signal for one request, counted under the prompt version that served
// it. The request id names that version itself (signed, feedback/request-id.ts), so resolving it needs
// no lookup; the store is asked once, to refuse a second feedback for the same request and metric.
import type { Context } from "hono";
import { z } from "zod";
import type { FeedbackOptions, GatewayConfig } from "../config/gateway-config.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { DAY_MS, MAX_CLOCK_SKEW_MS, MAX_REQUEST_ID_CHARS } from "../feedback/request-id.ts";
import type { RequestIds } from "../feedback/signing-keys.ts";
import { readJsonBody } from "../http/body.ts";
import type { AppEnv } from "../http/context.ts";
import { jsonLimitsOf } from "../http/json-limits.ts";
import { feedbackKey } from "../store/keys.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../support/clock.ts";
import type { AggregateWriter, FeedbackValue } from "../telemetry/aggregates.ts";
import type { Authenticator } from "./auth.ts";
import { formatPath } from "./request-schema.ts";

export const THUMBS = ["thumbs_up", "thumbs_down"] as const;

/** What the feedback route reads. */
export interface FeedbackDeps {
  readonly config: Pick<GatewayConfig, "limits" | "feedback">;
  readonly requestIds: Pick<RequestIds, "current">;
  readonly store: Pick<Store, "setIfAbsent">;
  readonly aggregates: Pick<AggregateWriter, "recordFeedback">;
  readonly clock: Pick<Clock, "now">;
}

export interface FeedbackBody {
  readonly request_id: string;
  readonly metric: string;
  readonly value: FeedbackValue;
  readonly comment: string | null;
}

/** The body's schema under these options: exactly one of `score` and `value`. */
export function feedbackSchema(options: FeedbackOptions) {
  return z
    .strictObject({
      request_id: z.string().min(1).max(MAX_REQUEST_ID_CHARS),
      score: z
        .number({ error: "must be a number from 0 to 1" })
        .min(0, "must be from 0 to 1")
        .max(1, "must be from 0 to 1")
        .optional(),
      value: z.enum(THUMBS, { error: `must be one of ${THUMBS.join(", ")}` }).optional(),
      metric: z
        .string()
        .refine(
          (m) => options.metrics.includes(m),
          `must be one of the configured metrics: ${options.metrics.join(", ")}`,
        )
        .optional(),
      comment: z.string().max(options.comment_max_chars, `at most ${options.comment_max_chars} characters`).optional(),
    })
    .refine((b) => (b.score === undefined) !== (b.value === undefined), {
      message: 'send either "score" (0 to 1) or "value" (thumbs_up or thumbs_down), not both',
      path: ["score"],
    });
}

/** The body, checked; a 400 naming the first field at fault otherwise. */
export function parseFeedback(json: unknown, options: FeedbackOptions): FeedbackBody {
  if (json === null || typeof json !== "object" || Array.isArray(json))
    throw new GatewayError("invalid_request", "The request body must be a JSON object");
  const result = feedbackSchema(options).safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const param = issue ? formatPath(issue.path) : "";
    const unknown = issue?.code === "unrecognized_keys" ? issue.keys.join(", ") : null;
    if (unknown !== null)
      throw new GatewayError("invalid_request", `Invalid body: unknown field ${unknown}`, { param: unknown });
    throw new GatewayError("invalid_request", `Invalid body: ${param || "(root)"}: ${issue?.message ?? "invalid"}`, {
      ...(param ? { param } : {}),
    });
  }
  const b = result.data;
  const metric = b.metric ?? options.metrics[0] ?? "quality";
  const value: FeedbackValue =
    b.score !== undefined ? { metric, score: b.score } : { metric, thumb: b.value === "thumbs_up" ? "up" : "down" };
  return { request_id: b.request_id, metric, value, comment: b.comment ?? null };
}

/** Room for the fields and the longest comment, every character escaped. */
const bodyLimit = (options: FeedbackOptions): number => 8_192 + 6 * options.comment_max_chars;

const notFound = (message: string): GatewayError => new GatewayError("not_found", message, { param: "request_id" });

export function feedbackRoute(deps: FeedbackDeps, auth: Authenticator) {
  const options = deps.config.feedback;
  const maxAgeMs = options.max_age_days * DAY_MS;
  const json = jsonLimitsOf(deps.config.limits);
  return async (c: Context<AppEnv>): Promise<Response> => {
    const { incoming } = c.env;
    auth.check(incoming.headers.authorization);
    const raw = await readJsonBody(incoming, Math.min(bodyLimit(options), deps.config.limits.body_bytes), json);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString("utf8")) as unknown;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new GatewayError("invalid_json", `We could not parse the JSON body of your request: ${reason}`, {
        cause: err,
      });
    }
    const body = parseFeedback(parsed, options);

    const codec = deps.requestIds.current();
    if (codec === null)
      throw new GatewayError(
        "unavailable",
        "Feedback is not accepted yet: the gateway has not read its key; retry shortly",
      );
    const now = deps.clock.now();
    const verified = codec.verify(body.request_id, now);
    if (!verified.ok) {
      if (verified.reason === "expired")
        throw notFound(`Request id expired: feedback is accepted for ${options.max_age_days} days after the request`);
      throw notFound(
        "Unknown request id: send the x-request-id of a response served from a prompt version (X-Prompt-Ref)",
      );
    }
    const { claims, tag } = verified;

    // One feedback per request and metric; the key lives as long as the id does.
    const record = JSON.stringify({
      request_id: body.request_id,
      metric: body.metric,
      ...("score" in body.value ? { score: body.value.score } : { value: `thumbs_${body.value.thumb}` }),
      comment: body.comment,
      at: now,
    });
    const expireMs = Math.max(1, Math.ceil(claims.issuedAt + maxAgeMs + MAX_CLOCK_SKEW_MS - now));
    let first: boolean;
    try {
      first = await deps.store.setIfAbsent(feedbackKey(tag, body.metric), record, { expireMs });
    } catch (err) {
      throw new GatewayError("unavailable", "The store did not answer; retry the feedback", { cause: err });
    }
    if (!first)
      throw new GatewayError(
        "invalid_request",
        `Feedback for this request and metric "${body.metric}" was already recorded`,
        { status: 409, param: "request_id" },
      );
    deps.aggregates.recordFeedback(
      { env: claims.env, prompt: claims.prompt, version: claims.version, segment: claims.segment },
      body.value,
      now,
    );
    return c.json({
      object: "feedback",
      request_id: body.request_id,
      metric: body.metric,
      prompt: claims.prompt,
      version: claims.version,
      variant: claims.variant,
      environment: claims.env,
      segment: claims.segment,
    });
  };
}
