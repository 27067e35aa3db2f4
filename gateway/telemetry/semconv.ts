// Span attribute names in one place: OpenTelemetry GenAI semantic conventions
// (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/) and promptgate's own.

export const ATTR = {
  operationName: "gen_ai.operation.name",
  providerName: "gen_ai.provider.name",
  requestModel: "gen_ai.request.model",
  responseModel: "gen_ai.response.model",
  responseId: "gen_ai.response.id",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
  finishReasons: "gen_ai.response.finish_reasons",
  inputMessages: "gen_ai.input.messages",
  outputMessages: "gen_ai.output.messages",
  promptName: "promptgate.prompt.name",
  promptVersion: "promptgate.prompt.version",
  promptVariant: "promptgate.prompt.variant",
  promptEnvironment: "promptgate.prompt.environment",
  costUsd: "promptgate.cost.usd",
  userBucket: "promptgate.user.bucket",
  usageComplete: "promptgate.usage.complete",
  timeToFirstTokenMs: "promptgate.time_to_first_token_ms",
  httpStatus: "http.response.status_code",
  errorType: "error.type",
} as const;
