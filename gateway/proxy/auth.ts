// Caller authentication and the Authorization the provider receives (docs/design.md, "Keys").
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { GatewayConfig, ProviderConfig } from "../config/gateway-config.ts";
import { GatewayError } from "../errors/gateway-error.ts";

export interface Authenticator {
  /** Throws 401 unless the caller may use the gateway. */
  check(authorization: string | undefined): void;
  /**
   * The headers that carry credentials to `provider` for this caller: the provider's own key, or the
   * caller's, and then with it the caller's `OpenAI-Organization` / `OpenAI-Project` (their key, their
   * account to choose) unless the provider sets them.
   */
  upstreamAuth(provider: ProviderConfig, caller: IncomingHttpHeaders): Record<string, string>;
}

/** Which account a caller's own key bills: theirs to say, and only with their own key. */
const CALLER_ACCOUNT_HEADERS = ["openai-organization", "openai-project"] as const;

const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

export function bearerToken(authorization: string | undefined): string | null {
  if (!authorization) return null;
  const m = /^Bearer\s+(.+)$/i.exec(authorization.trim());
  return m?.[1]?.trim() ?? null;
}

export function createAuthenticator(config: Pick<GatewayConfig, "gatewayKeys">): Authenticator {
  // Comparing fixed-size digests keeps the comparison constant-time whatever the presented length.
  const keys = config.gatewayKeys.map(digest);
  const enforced = keys.length > 0;
  return {
    check(authorization) {
      if (!enforced) return;
      const token = bearerToken(authorization);
      if (token === null) {
        throw new GatewayError("invalid_api_key", "Missing gateway key: send Authorization: Bearer <key>");
      }
      const presented = digest(token);
      let ok = false;
      for (const k of keys) ok = timingSafeEqual(k, presented) || ok;
      if (!ok) throw new GatewayError("invalid_api_key", "Incorrect gateway key provided");
    },
    upstreamAuth(provider, caller) {
      if (provider.apiKey !== null) {
        return provider.auth === "api-key"
          ? { "api-key": provider.apiKey }
          : { authorization: `Bearer ${provider.apiKey}` };
      }
      // A caller's own key goes only to a provider without a key of its own, and never when the
      // caller's header carried a gateway key.
      const callerAuthorization = caller.authorization;
      if (enforced || !callerAuthorization) return {};
      const out: Record<string, string> = {};
      if (provider.auth === "api-key") {
        const token = bearerToken(callerAuthorization);
        if (!token) return {};
        out["api-key"] = token;
      } else out["authorization"] = callerAuthorization;
      for (const name of CALLER_ACCOUNT_HEADERS) {
        const value = caller[name];
        if (typeof value === "string" && !(name in provider.headers)) out[name] = value;
      }
      return out;
    },
  };
}

/** The start-up warning docs/design.md asks for: provider keys held, but anyone may call. */
export function openGatewayWarning(config: GatewayConfig): string | null {
  if (config.gatewayKeys.length > 0) return null;
  const keyed = [...config.providers.values()].filter((p) => p.apiKey !== null).map((p) => p.name);
  if (keyed.length === 0) return null;
  return `the gateway holds provider keys (${keyed.join(", ")}) but no gateway keys are configured: anyone who can reach it spends them; set gateway_keys_env in gateway.yaml`;
}
