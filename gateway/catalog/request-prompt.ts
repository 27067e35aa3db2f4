// The request path's two prompt stages: resolve X-Prompt-Ref from the in-memory catalog, then render
// the version with the request's variables into the body the provider receives.
import { GatewayError } from "../errors/gateway-error.ts";
import { boundedJson, LIMIT_SETTINGS, type JsonLimits } from "../http/json-limits.ts";
import { resolvePrompt, type ServedPrompt } from "./catalog.ts";
import type { PromptSource } from "./prompt-source.ts";
import { parsePromptRef } from "../prompts/ref.ts";
import { applyPrompt, type PromptEndpoint } from "../prompts/render-request.ts";
import { resolveVariables } from "../prompts/variables.ts";
import { segmentOf } from "../prompts/segment.ts";

type Body = Record<string, unknown> & { model: string };

/**
 * The version serving this request, or null when it names no prompt. Never touches the store. The
 * split hashes `userId` (X-User-Id, else the body's `user`); without one the label's version serves.
 */
export function promptFor(
  source: PromptSource,
  refHeader: string | undefined,
  defaultLabel: string,
  userId: string | null,
): ServedPrompt | null {
  if (refHeader === undefined) return null;
  const ref = parsePromptRef(refHeader, defaultLabel);
  const catalog = source.catalog();
  if (!catalog) throw new GatewayError("unavailable", "The prompt registry is not loaded yet; retry shortly");
  return resolvePrompt(catalog, ref, { userId, bucketer: source.bucketer, userHasher: source.userHasher });
}

/** The id the split hashes: X-User-Id, else the body's `user`, else null (anonymous). */
export function userIdOf(header: string | undefined, body: Body): string | null {
  if (header !== undefined && header !== "") return header;
  const user = body["user"];
  return typeof user === "string" && user !== "" ? user : null;
}

/**
 * Variables from X-Prompt-Vars (JSON, within the body's `json` limits) or the body's prompt_variables,
 * never both.
 */
export function requestVariables(varsHeader: string | undefined, body: Body, json: JsonLimits): unknown {
  const inBody = body["prompt_variables"];
  if (varsHeader === undefined) return inBody;
  if (inBody !== undefined) {
    throw new GatewayError(
      "invalid_request",
      "Send prompt variables either in X-Prompt-Vars or in prompt_variables, not both",
      { param: "prompt_variables" },
    );
  }
  boundedJson(Buffer.from(varsHeader, "latin1"), json, "X-Prompt-Vars", { ...LIMIT_SETTINGS, param: "X-Prompt-Vars" });
  try {
    return JSON.parse(varsHeader) as unknown;
  } catch {
    throw new GatewayError("invalid_request", "X-Prompt-Vars must be a JSON object", { param: "X-Prompt-Vars" });
  }
}

/** The body with the version's rendered messages first, its model and its default params applied. */
export function renderInto(
  endpoint: PromptEndpoint,
  body: Body,
  served: ServedPrompt,
  varsHeader: string | undefined,
  json: JsonLimits,
): Body {
  return renderRequest(endpoint, body, served, varsHeader, undefined, json).body;
}

/**
 * renderInto, and the request's segment (prompts/segment.ts) from the same resolved variables or the
 * X-Prompt-Segment header; a header value the prompt does not declare is a 400 before anything is sent.
 */
export function renderRequest(
  endpoint: PromptEndpoint,
  body: Body,
  served: ServedPrompt,
  varsHeader: string | undefined,
  segmentHeader: string | undefined,
  json: JsonLimits,
): { body: Body; segment: string | null } {
  const vars = resolveVariables(served.version.variables, requestVariables(varsHeader, body, json));
  const segment = segmentOf(served.version.segment, vars, segmentHeader);
  const rendered = served.compiled.render(vars);
  return { body: applyPrompt(endpoint, body, served.version, rendered) as Body, segment };
}
