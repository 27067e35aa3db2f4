// The gateway's one error type, thrown by the request path's stages, and its OpenAI error shape
// (http/error-response.ts turns anything else thrown into one).
// https://platform.openai.com/docs/guides/error-codes

export type ErrorCode =
  | "invalid_json"
  | "invalid_request"
  | "invalid_api_key"
  | "permission_denied"
  | "not_found"
  | "model_not_found"
  | "body_too_large"
  | "upstream_error"
  | "upstream_unreachable"
  | "upstream_timeout"
  | "unavailable"
  | "client_closed"
  | "internal_error"
  | "template_error";

const STATUS: Record<ErrorCode, number> = {
  invalid_json: 400,
  invalid_request: 400,
  invalid_api_key: 401,
  // A call the gateway's configuration does not let through (pass-through allowlist).
  permission_denied: 403,
  not_found: 404,
  model_not_found: 404,
  body_too_large: 413,
  upstream_error: 502,
  upstream_unreachable: 502,
  upstream_timeout: 504,
  unavailable: 503,
  // nginx's convention for "the client closed the request"; only ever logged, the client is gone.
  client_closed: 499,
  internal_error: 500,
  // A registered prompt version failed to render: the prompt is at fault, not the request.
  template_error: 500,
};

const TYPE: Record<ErrorCode, string> = {
  invalid_json: "invalid_request_error",
  invalid_request: "invalid_request_error",
  invalid_api_key: "authentication_error",
  permission_denied: "invalid_request_error",
  not_found: "invalid_request_error",
  model_not_found: "invalid_request_error",
  body_too_large: "invalid_request_error",
  upstream_error: "api_error",
  upstream_unreachable: "api_error",
  upstream_timeout: "timeout_error",
  unavailable: "api_error",
  client_closed: "invalid_request_error",
  internal_error: "api_error",
  template_error: "api_error",
};

export interface GatewayErrorOptions {
  /** Overrides the code's default status (a provider's own 4xx/5xx keeps its status). */
  status?: number;
  /** The offending field, OpenAI's `param`. */
  param?: string;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "GatewayError";
    this.code = code;
    this.status = options.status ?? STATUS[code];
    this.param = options.param ?? null;
  }

  /** Low-cardinality label for spans and metrics (`error.type`). */
  get type(): string {
    return this.code;
  }
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string };
}

export function errorBody(err: GatewayError): ErrorBody {
  return { error: { message: err.message, type: TYPE[err.code], param: err.param, code: err.code } };
}
