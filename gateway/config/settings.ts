// Process settings from environment variables (docs/design.md, "Configuration"), read once by the entry point.
import { dirname, join } from "node:path";
import { z } from "zod";

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default("0.0.0.0"),
  CONFIG_DIR: z.string().min(1).default("./config"),
  REDIS_URL: z.string().url().optional(),
  STATE_PATH: z.string().min(1).default("./.promptgate/state.db"),
  REDIS_PREFIX: z.string().default("promptgate:"),
  GATEWAY_ENV: z.string().min(1).default("prod"),
  ADMIN_TOKEN: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
  REQUEST_ID_KEYS: z.string().min(1).optional(),
  // Checked without repeating the value in the error: the URL may hold a token.
  ALERT_WEBHOOK_URL: z
    .string()
    .refine((v) => URL.canParse(v) && ["http:", "https:"].includes(new URL(v).protocol), {
      message: "must be an http or https URL",
    })
    .optional(),
});

export interface Settings {
  port: number;
  host: string;
  configDir: string;
  redisUrl: string | undefined;
  statePath: string;
  redisPrefix: string;
  gatewayEnv: string;
  adminToken: string | undefined;
  logLevel: "debug" | "info" | "warn" | "error";
  drainTimeoutMs: number;
  /** Keys that sign request ids (comma-separated; the first signs); unset: one key kept in the store. */
  requestIdKeys: string | undefined;
  /** Where rollout events and production regressions are POSTed (alerts/); unset: no alerts are sent. */
  alertWebhookUrl: string | undefined;
  /** OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true: spans carry the messages sent and received. */
  captureMessageContent: boolean;
}

export function loadSettings(env: NodeJS.ProcessEnv): Settings {
  // An empty variable means unset, as shells and Helm often leave them.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid environment: ${issue?.path.join(".") ?? "?"}: ${issue?.message ?? "invalid"}`);
  }
  const s = parsed.data;
  return {
    port: s.PORT,
    host: s.HOST,
    configDir: s.CONFIG_DIR,
    redisUrl: s.REDIS_URL,
    statePath: s.STATE_PATH,
    redisPrefix: s.REDIS_PREFIX,
    gatewayEnv: s.GATEWAY_ENV,
    adminToken: s.ADMIN_TOKEN,
    logLevel: s.LOG_LEVEL,
    drainTimeoutMs: s.DRAIN_TIMEOUT_MS,
    requestIdKeys: s.REQUEST_ID_KEYS,
    alertWebhookUrl: s.ALERT_WEBHOOK_URL,
    captureMessageContent: (env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] ?? "").trim().toLowerCase() === "true",
  };
}

/** The last registry snapshot, kept beside the embedded store so a replica can boot while Redis is down. */
export const snapshotPath = (s: Pick<Settings, "statePath">): string => join(dirname(s.statePath), "registry-snapshot.json");
