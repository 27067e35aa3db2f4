// The OpenAI-compatible request bodies, validated once where they enter; unknown fields pass through.
import { z } from "zod";
import { GatewayError } from "../errors/gateway-error.ts";
import type { BoundedJson } from "../http/json-limits.ts";
import { isPlainObject } from "../support/json-value.ts";

export type Endpoint = "chat" | "completions" | "embeddings" | "responses";

export const ENDPOINT_PATHS: Record<Endpoint, string> = {
  chat: "/chat/completions",
  completions: "/completions",
  embeddings: "/embeddings",
  responses: "/responses",
};

/** `gen_ai.operation.name` per endpoint (OpenTelemetry GenAI semantic conventions). */
export const OPERATION_NAMES: Record<Endpoint, string> = {
  chat: "chat",
  completions: "text_completion",
  embeddings: "embeddings",
  responses: "chat",
};

const model = z.string({ error: "model is required and must be a string" }).min(1, "model must not be empty");
const streamFlag = z.boolean().optional();
const streamOptions = z.object({ include_usage: z.boolean().optional() }).nullable().optional();
// Checked, not copied: a copy would drop an own `__proto__` key (JSON.parse makes one) before the
// variable rules could refuse it, and would cost a walk of the whole value.
const variables = z
  .unknown()
  .refine((v) => v === undefined || isPlainObject(v), "must be a JSON object of template variables")
  .optional();
// Arrays whose items are the provider's business (content parts, token ids, batches): never walked.
const anyArray = z.custom<unknown[]>((v) => Array.isArray(v), { error: "expected an array" });

const message = z.object({
  role: z.string().min(1),
  content: z.union([z.string(), anyArray, z.null()]).optional(),
});

// The fields the gateway reads, checked where the body enters. The schemas only check: the body itself
// is the parsed JSON, unknown fields and all, so that a 10 MB body is never copied field by field.
const schemas = {
  chat: z.object({
    model,
    // Optional here: a prompt's rendered messages may be all there is (checked in parseRequest).
    messages: z.array(message).optional(),
    stream: streamFlag,
    stream_options: streamOptions,
    user: z.string().optional(),
    prompt_variables: variables,
  }),
  completions: z.object({
    model,
    prompt: z.union([z.string(), anyArray]).optional(),
    stream: streamFlag,
    stream_options: streamOptions,
    user: z.string().optional(),
    prompt_variables: variables,
  }),
  embeddings: z.object({
    model,
    input: z.union([z.string(), anyArray]),
    user: z.string().optional(),
  }),
  responses: z.object({
    model,
    input: z.union([z.string(), anyArray]).optional(),
    instructions: z.string().nullable().optional(),
    stream: streamFlag,
    user: z.string().optional(),
    prompt_variables: variables,
  }),
} as const;

export interface ParsedRequest {
  readonly endpoint: Endpoint;
  /** The validated body; the proxy may rewrite fields before forwarding. */
  readonly body: Record<string, unknown> & { model: string };
  readonly stream: boolean;
  /** Whether the client itself asked for the usage chunk of a stream. */
  readonly clientWantsUsage: boolean;
}

/**
 * `raw` has been held to the JSON limits as it was read (readJsonBody). `prompted`: the request names a
 * prompt (X-Prompt-Ref), whose templates may supply the messages.
 */
export function parseRequest(endpoint: Endpoint, raw: BoundedJson, prompted = false): ParsedRequest {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw new GatewayError(
      "invalid_json",
      `We could not parse the JSON body of your request: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (!isPlainObject(json)) {
    throw new GatewayError("invalid_request", "The request body must be a JSON object");
  }
  const result = schemas[endpoint].safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const param = issue ? formatPath(issue.path) : "";
    throw new GatewayError(
      "invalid_request",
      `Invalid body: ${param || "(root)"}: ${issue?.message ?? "invalid"}`,
      param ? { param } : {},
    );
  }
  // The checked fields hold what the schema says (it transforms nothing); the rest is the client's.
  const body = json as ParsedRequest["body"];
  if (endpoint === "chat" && !prompted && body["messages"] === undefined) {
    throw new GatewayError("invalid_request", "Invalid body: messages: Required (or name a prompt with X-Prompt-Ref)", {
      param: "messages",
    });
  }
  const stream = body["stream"] === true;
  const options = body["stream_options"] as { include_usage?: boolean } | null | undefined;
  return { endpoint, body, stream, clientWantsUsage: stream && options?.include_usage === true };
}

/** `messages[0].content`, the way OpenAI names a parameter. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}
