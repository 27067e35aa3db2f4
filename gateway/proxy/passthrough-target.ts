// What a pass-through call may be: its request target normalised, so that the provider gets exactly
// the path the gateway checked, and, when the gateway calls the provider with its own key, a path and
// method that gateway.yaml's `passthrough.allow` lists.
import type { GatewayConfig, ProviderConfig } from "../config/gateway-config.ts";
import { GatewayError } from "../errors/gateway-error.ts";

export interface PassthroughTarget {
  /** The path with `//` collapsed and each segment percent-decoded: what the allowlist matches. */
  readonly path: string;
  /** What the provider gets below its base URL: the same segments as sent (still encoded), the query kept. */
  readonly upstreamPath: string;
}

const refused = (why: string): GatewayError =>
  new GatewayError("invalid_request", `This request target is not passed through: ${why}`);

/**
 * Normalises a `/v1/...` request target (RFC 9112 §3.2). Refused: absolute-form (`http://host/x`)
 * and anything but a path, `.` and `..` segments (also percent-encoded: `%2e%2e`), and a segment that
 * decodes to `/` or `\` (`%2f`, `%5c`) or holds a double-encoded one (`%252e`): a provider or a proxy on
 * the way that decodes once more would otherwise see another path than the one checked here.
 */
export function passthroughTarget(url: string): PassthroughTarget {
  if (!url.startsWith("/")) throw refused("send the path alone (/v1/...), not an absolute URL");
  const q = url.indexOf("?");
  const rawPath = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? "" : url.slice(q);
  if (rawPath.includes("\\")) throw refused("the path holds a backslash");
  const sent: string[] = [];
  const decoded: string[] = [];
  for (const segment of rawPath.split("/")) {
    if (segment === "") continue;
    let d: string;
    try {
      d = decodeURIComponent(segment);
    } catch {
      throw refused("the path holds malformed percent-encoding");
    }
    if (d === "." || d === "..") throw refused("the path holds a '.' or '..' segment");
    if (/[/\\]|%(?:2e|2f|5c)/i.test(d)) throw refused("the path holds an encoded '/' or '\\', or a double-encoded one");
    sent.push(segment);
    decoded.push(d);
  }
  if (decoded[0] !== "v1") throw refused("only /v1/... paths pass");
  const trailing = sent.length > 1 && rawPath.endsWith("/") ? "/" : "";
  return {
    path: `/${decoded.join("/")}${trailing}`,
    upstreamPath: `/${sent.slice(1).join("/")}${trailing}${query}`,
  };
}

/** Fixed provider headers that carry a credential: the gateway's, not the caller's. */
const CREDENTIAL_HEADERS = new Set(["authorization", "api-key", "x-api-key"]);

/**
 * Whether `provider` is called with the caller's own credentials: it has no key of its own, and the
 * caller's Authorization reaches it (no gateway keys, which are never forwarded).
 */
export function callerBringsKey(provider: ProviderConfig, gatewayKeys: readonly string[]): boolean {
  if (provider.apiKey !== null || gatewayKeys.length > 0) return false;
  return !Object.keys(provider.headers).some((h) => CREDENTIAL_HEADERS.has(h.toLowerCase()));
}

/** Throws 403 unless the call may pass: the caller brings their own key, or the allowlist has it. */
export function checkPassthrough(
  config: Pick<GatewayConfig, "passthrough" | "gatewayKeys">,
  provider: ProviderConfig,
  method: string,
  path: string,
): void {
  if (callerBringsKey(provider, config.gatewayKeys)) return;
  if (config.passthrough.allow.some((rule) => rule.methods.has(method) && rule.test(path))) return;
  throw new GatewayError(
    "permission_denied",
    `${method} ${path} is not passed through to provider "${provider.name}": this gateway calls it with its own key, and gateway.yaml passthrough.allow does not list this call`,
  );
}
