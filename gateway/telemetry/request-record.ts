// What one request turned out to be, filled in by the request path's stages as they learn it and
// recorded once when the request ends (metrics now; spans and aggregates build on the same record).
import type { ResponseMeta } from "../openai/response-meta.ts";
import type { Usage } from "../openai/usage.ts";

export interface RequestRecord {
  readonly startedAt: number;
  /** `gen_ai.operation.name` (chat, text_completion, embeddings); null off the inference routes. */
  operation: string | null;
  provider: string | null;
  environment: string | null;
  /** A low-cardinality error code (GatewayError code) when the request failed. */
  errorType: string | null;
  prompt: string | null;
  version: string | null;
  variant: string | null;
  model: string | null;
  usage: Usage | null;
  /** Only with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true: what was sent and answered (JSON). */
  inputMessages: string | null;
  outputMessages: string | null;
  /**
   * Live judging: the request was sampled for the evaluator; its rendered input and answer text. Never
   * on spans, logs or metrics (only the live-judging queue reads it).
   */
  liveSample: { input: string | null; output: string | null } | null;
  /** The provider answer's id, model and finish reasons, when it answered. */
  response: ResponseMeta | null;
  /** Pico-dollars; null when unpriced or unknown. */
  costPico: number | null;
  /** Milliseconds from start to the first streamed event; null for buffered answers. */
  ttftMs: number | null;
  /** The identified user's bucket when a split was consulted. */
  bucket: number | null;
  /** The request named a prompt but carried no user id, so the split was skipped. */
  anonymous: boolean;
  /** The identified user's id as hashed for the split (64-bit, hex); counts distinct users per version. */
  userHash: string | null;
  /** The segment the request falls in, when its prompt declares a segment dimension. */
  segment: string | null;
  /**
   * Buckets (of 10,000) per version in the split that served this identified user: the weights in
   * force, recorded per minute with the aggregates. Null when no split was consulted.
   */
  splitShares: ReadonlyMap<string, number> | null;
}

export const newRecord = (startedAt: number): RequestRecord => ({
  startedAt,
  operation: null,
  provider: null,
  environment: null,
  errorType: null,
  prompt: null,
  version: null,
  variant: null,
  model: null,
  usage: null,
  inputMessages: null,
  outputMessages: null,
  liveSample: null,
  response: null,
  costPico: null,
  ttftMs: null,
  bucket: null,
  anonymous: false,
  userHash: null,
  segment: null,
  splitShares: null,
});
