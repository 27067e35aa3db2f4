// Every secret the configuration holds, with where it came from: what support/scrubber.ts keeps out of
// every output. A provider's key is scoped to that provider, the one party it is ever sent to.
import type { GatewayConfig } from "./gateway-config.ts";
import type { Settings } from "./settings.ts";

export interface ConfiguredSecret {
  /** Where it is configured (an environment variable, a gateway.yaml field), for warnings. */
  readonly source: string;
  readonly value: string;
  /** The provider it is sent to, or null for secrets that never leave the gateway. */
  readonly scope: string | null;
}

/** Header names that carry credentials (a key put in a provider's `headers:` rather than `api_key_env`). */
export const CREDENTIAL_HEADER = /authorization|api[-_]?key|token|secret|password|cookie/i;

export function configuredSecrets(
  settings: Pick<Settings, "adminToken" | "redisUrl"> & Partial<Pick<Settings, "requestIdKeys" | "alertWebhookUrl">>,
  config: Pick<GatewayConfig, "providers" | "gatewayKeys" | "gatewayKeysEnv">,
): ConfiguredSecret[] {
  const out: ConfiguredSecret[] = [];
  for (const p of config.providers.values()) {
    if (p.apiKey !== null) out.push({ source: p.apiKeyEnv ?? `providers.${p.name}`, value: p.apiKey, scope: p.name });
    for (const [name, value] of Object.entries(p.headers))
      if (CREDENTIAL_HEADER.test(name))
        out.push({ source: `providers.${p.name}.headers.${name}`, value, scope: p.name });
  }
  for (const key of config.gatewayKeys)
    out.push({ source: config.gatewayKeysEnv ?? "gateway keys", value: key, scope: null });
  if (settings.adminToken !== undefined) out.push({ source: "ADMIN_TOKEN", value: settings.adminToken, scope: null });
  for (const key of (settings.requestIdKeys ?? "").split(","))
    if (key.trim() !== "") out.push({ source: "REQUEST_ID_KEYS", value: key.trim(), scope: null });
  for (const value of redisPassword(settings.redisUrl))
    out.push({ source: "the password in REDIS_URL", value, scope: null });
  for (const value of webhookSecrets(settings.alertWebhookUrl))
    out.push({ source: "ALERT_WEBHOOK_URL", value, scope: null });
  return out;
}

/**
 * The alert webhook's URL is a credential (chat webhooks carry their token in the path or query): the
 * whole URL, its path and query, and any password in it.
 */
export function webhookSecrets(url: string | undefined): string[] {
  if (url === undefined || !URL.canParse(url)) return [];
  const u = new URL(url);
  const pathAndQuery = `${u.pathname}${u.search}`;
  return [url, ...(pathAndQuery.length > 1 ? [pathAndQuery] : []), ...(u.password === "" ? [] : [u.password])];
}

/** The password in a `redis://user:password@host` URL, as written and decoded. */
function redisPassword(url: string | undefined): string[] {
  if (url === undefined || !URL.canParse(url)) return []; // not a URL: settings.ts refuses it
  const written = new URL(url).password;
  if (written === "") return [];
  try {
    const decoded = decodeURIComponent(written);
    return decoded === written ? [written] : [written, decoded];
  } catch {
    return [written]; // a stray % is taken literally
  }
}
