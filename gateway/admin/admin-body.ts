// Admin request bodies: read with a 1 MB cap (413 beyond), bounded in depth and object members (400
// beyond, checked before any parser runs), parsed as JSON (or a prompt file as YAML, in a worker thread)
// and validated with zod once, here; handlers get typed values or a 400 naming the field.
import type { Context } from "hono";
import { z } from "zod";
import { readJsonBody } from "../http/body.ts";
import type { JsonLimits } from "../http/json-limits.ts";
import type { AppEnv } from "../http/context.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { isPlainObject } from "../support/json-value.ts";
import { promptFromDocument } from "../prompts/prompt-file.ts";
import { PromptFileError } from "../prompts/prompt-file-error.ts";
import type { PromptVersion } from "../prompts/types.ts";
import { ENVIRONMENTS } from "../registry/environments.ts";
import { parseYamlOffThread } from "./yaml-off-thread.ts";
import { refusedPrompt } from "../registry/prompt-ops.ts";

export const ADMIN_BODY_LIMIT = 1024 * 1024;
/** Admin bodies are small and shallow (a prompt file nests about 5 deep); YAML flow collections count. */
export const ADMIN_JSON_LIMITS: JsonLimits = { depth: 64, members: 10_000, containers: 10_000 };

const YAML_TYPES = new Set(["application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"]);
const who = z.string().trim().min(1, "must not be empty").max(200);

export const promoteBody = z.strictObject({
  version: z.string().min(1),
  env: z.enum(ENVIRONMENTS),
  approved_by: who,
  force: z.boolean().optional(),
});

/** `{ "weights": { "1.0.0": 90, "1.1.0": 10 } }`; `{}` stops the canary. Values are checked by weights-ops. */
export const weightsBody = z.strictObject({ weights: z.record(z.string().min(1), z.number()) });

export const rollbackBody = z.strictObject({ env: z.enum(ENVIRONMENTS), actor: who.optional() });

export const renderBody = z.strictObject({
  ref: z.string().min(1),
  // Checked, not copied: the variable rules (forbidden keys included) run on the value as sent.
  vars: z
    .unknown()
    .refine((v) => v === undefined || isPlainObject(v), "must be a JSON object of template variables")
    .optional(),
});

async function readText(c: Context<AppEnv>): Promise<string> {
  return (await readJsonBody(c.env.incoming, ADMIN_BODY_LIMIT, ADMIN_JSON_LIMITS)).toString("utf8");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new GatewayError("invalid_json", "The request body is not valid JSON");
  }
}

/** The body as JSON, validated by `schema`. */
export async function jsonBody<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.infer<S>> {
  return validated(schema, parseJson(await readText(c)));
}

/** As `jsonBody`, but an empty body reads as `{}` (for bodies whose fields are all optional). */
export async function optionalJsonBody<S extends z.ZodType>(c: Context<AppEnv>, schema: S): Promise<z.infer<S>> {
  const text = await readText(c);
  return validated(schema, text.trim() === "" ? {} : parseJson(text));
}

function validated<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.map(String).join(".") ?? "";
  throw new GatewayError(
    "invalid_request",
    `${path === "" ? "body" : path}: ${issue?.message ?? "invalid"}`,
    path === "" ? {} : { param: path },
  );
}

/**
 * A prompt file sent as YAML (`content-type: application/yaml`) or as the same structure in JSON,
 * validated by the prompt file parser exactly as `promptgate push` validates files.
 */
export async function promptFileBody(c: Context<AppEnv>): Promise<PromptVersion> {
  const type = (c.env.incoming.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  const text = await readText(c);
  const doc = YAML_TYPES.has(type) ? await parseYamlOffThread(text, "body") : parseJson(text);
  if (!isPlainObject(doc)) {
    throw new GatewayError(
      "invalid_request",
      YAML_TYPES.has(type)
        ? "body: expected a prompt file, a YAML mapping"
        : "body: expected a prompt file as a JSON object (or YAML with content-type: application/yaml)",
    );
  }
  try {
    return promptFromDocument(doc, "body");
  } catch (err) {
    if (err instanceof PromptFileError) throw refusedPrompt(err);
    throw err;
  }
}

/** Who a write is recorded as: the `X-Actor` header, else "admin-api". */
export function actorOf(c: Context<AppEnv>): string {
  const raw = c.env.incoming.headers["x-actor"];
  const header = (Array.isArray(raw) ? raw[0] : raw)?.trim() ?? "";
  return header === "" ? "admin-api" : header.slice(0, 200);
}
