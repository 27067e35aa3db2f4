// What any thrown value answers over HTTP, for the one error renderer (app.ts): the gateway's own
// errors as they are; the registry's rules by kind (conflict 409, not found 404, invalid 400), with
// their message and field; anything else a 500 that says nothing (its message may hold a key).
import { GatewayError, type ErrorCode } from "../errors/gateway-error.ts";
import { RegistryError, type RegistryErrorKind } from "../registry/registry-error.ts";

const REGISTRY: Record<RegistryErrorKind, { readonly code: ErrorCode; readonly status: number }> = {
  conflict: { code: "invalid_request", status: 409 },
  not_found: { code: "not_found", status: 404 },
  invalid: { code: "invalid_request", status: 400 },
};

export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof RegistryError) {
    const { code, status } = REGISTRY[err.kind];
    return new GatewayError(code, err.message, {
      status,
      ...(err.field === null ? {} : { param: err.field }),
      cause: err,
    });
  }
  return new GatewayError("internal_error", "internal error", { cause: err });
}
