// Registry operations shared by the CLI and the admin API (push, list, show, render, diff, history):
// they return data and throw RegistryError; printing and HTTP stay with the callers. Rendering reuses the
// request path's variable and template rules, whose GatewayErrors pass through as a request would get them.
import { createTwoFilesPatch, FILE_HEADERS_ONLY } from "diff";
import { GatewayError } from "../errors/gateway-error.ts";
import { compileForRegistration, compilePrompt } from "../prompts/compile.ts";
import type { CompiledPrompt } from "../prompts/compile.ts";
import { canonicalJson } from "../support/json-value.ts";
import { PromptFileError } from "../prompts/prompt-file-error.ts";
import { parsePromptRef } from "../prompts/ref.ts";
import type { PromptVersion, RenderedPrompt } from "../prompts/types.ts";
import { resolveVariables } from "../prompts/variables.ts";
import { ENVIRONMENTS, isEnvironment, type Environment } from "./environments.ts";
import type { EvalRecord, SuiteRecord } from "./eval-records.ts";
import type { AuditEntry, Label } from "./records.ts";
import type { Registry } from "./registry.ts";
import { RegistryError } from "./registry-error.ts";

export type Labels = Record<Environment, Label | null>;

export type PushOutcome =
  | { readonly name: string; readonly version: string; readonly status: "created" | "unchanged" }
  | { readonly name: string; readonly version: string; readonly status: "error"; readonly error: RegistryError };

export interface PromptSummary {
  readonly name: string;
  /** Ascending by semver. */
  readonly versions: readonly string[];
  readonly labels: Labels;
}

export interface ShownVersion {
  readonly version: PromptVersion;
  readonly labels: Labels;
  /** The environments whose label points at this version. */
  readonly environments: readonly Environment[];
  /** The label the ref went through; null when it named a version. */
  readonly via: Environment | null;
}

/** What a request through `ref` would send: the rendered templates, the pinned model and default params. */
export interface RenderedRef extends RenderedPrompt {
  readonly name: string;
  readonly version: string;
  readonly via: Environment | null;
  /** null: the request's own model is used. */
  readonly model: string | null;
  readonly params: Readonly<Record<string, unknown>>;
  /** The variables after validation and defaults. */
  readonly variables: Readonly<Record<string, unknown>>;
}

export interface VersionDiff {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly changed: boolean;
  /** The sections that differ, in document order (description, model, params, ...). */
  readonly fields: readonly string[];
  /** A unified diff of the two versions' documents (see `describeVersion`); "" when they are the same. */
  readonly patch: string;
}

/**
 * Compiles then registers each version; one failing (a template that does not compile, a changed
 * registered version) is reported and the rest still go through. Store failures are thrown.
 */
export async function pushVersions(
  registry: Registry,
  versions: readonly PromptVersion[],
  actor: string,
): Promise<PushOutcome[]> {
  const outcomes: PushOutcome[] = [];
  for (const v of versions) {
    try {
      compileForRegistration(v);
      const { created } = await registry.register(v, actor);
      outcomes.push({ name: v.name, version: v.version, status: created ? "created" : "unchanged" });
    } catch (err) {
      if (err instanceof PromptFileError) {
        outcomes.push({ name: v.name, version: v.version, status: "error", error: refusedPrompt(err) });
      } else if (err instanceof RegistryError) {
        outcomes.push({ name: v.name, version: v.version, status: "error", error: err });
      } else throw err;
    }
  }
  return outcomes;
}

/** A prompt file or template that cannot be registered. */
export function refusedPrompt(err: PromptFileError): RegistryError {
  return new RegistryError("invalid", err.message, { cause: err });
}

export async function listPrompts(registry: Registry): Promise<PromptSummary[]> {
  return Promise.all((await registry.names()).map((name) => summarize(registry, name)));
}

/** Versions and labels of one prompt; 404 when it has no version. */
export async function describePrompt(registry: Registry, name: string): Promise<PromptSummary> {
  const summary = await summarize(registry, name);
  if (summary.versions.length === 0) throw unknownPrompt(name);
  return summary;
}

/** Resolves `name`, `name@label` or `name@1.2.0` to a registered version. */
export async function showRef(registry: Registry, ref: string, defaultLabel: string): Promise<ShownVersion> {
  const parsed = parseRef(ref, defaultLabel);
  const { name } = parsed;
  const labels = await registry.labels(name);
  let wanted: string;
  let via: Environment | null = null;
  if (parsed.kind === "version") {
    wanted = parsed.version;
  } else {
    if (!isEnvironment(parsed.label)) {
      throw new RegistryError(
        "invalid",
        `unknown label "${parsed.label}" in "${ref}": use one of ${ENVIRONMENTS.join(", ")} or a version`,
        { field: "ref" },
      );
    }
    via = parsed.label;
    const label = labels[via];
    if (label === null) {
      if ((await registry.versions(name)).length === 0) throw unknownPrompt(name);
      throw new RegistryError("not_found", `prompt ${name} has no version on label ${via}; promote one first`, {
        field: "ref",
      });
    }
    wanted = label.version;
  }
  const version = await registry.get(name, wanted);
  if (version === null) {
    if ((await registry.versions(name)).length === 0) throw unknownPrompt(name);
    throw new RegistryError("not_found", `prompt ${name} has no registered version ${wanted}`, { field: "ref" });
  }
  const environments = ENVIRONMENTS.filter((env) => labels[env]?.version === version.version);
  return { version, labels, environments, via };
}

/** Renders `ref` with `vars` exactly as the request path would (same compiler, same variable rules). */
export async function renderRef(
  registry: Registry,
  ref: string,
  vars: unknown,
  defaultLabel: string,
): Promise<RenderedRef> {
  const { version: v, via } = await showRef(registry, ref, defaultLabel);
  const compiled = compileStored(v);
  const variables = resolveVariables(v.variables, vars);
  const rendered = compiled.render(variables);
  return {
    name: v.name,
    version: v.version,
    via,
    model: v.model,
    params: v.params,
    variables: { ...variables },
    messages: rendered.messages,
    prompt: rendered.prompt,
    instructions: rendered.instructions,
  };
}

/** The audit history of `name`, oldest first; 404 for a prompt that was never registered. */
export async function promptHistory(registry: Registry, name: string): Promise<AuditEntry[]> {
  const entries = await registry.history(name);
  if (entries.length === 0 && (await registry.versions(name)).length === 0) throw unknownPrompt(name);
  return entries;
}

export interface PromptEvals {
  readonly name: string;
  /** The suite the promotion gate holds for the prompt; null when it has none. */
  readonly suite: SuiteRecord | null;
  /** Oldest first. */
  readonly evals: readonly EvalRecord[];
}

/** The eval records of `name` (of one version when given); 404 for a prompt that was never registered. */
export async function promptEvals(registry: Registry, name: string, version?: string): Promise<PromptEvals> {
  const [records, suite, versions] = await Promise.all([
    registry.evals(name),
    registry.suite(name),
    registry.versions(name),
  ]);
  if (versions.length === 0) throw unknownPrompt(name);
  const evals = version === undefined ? records : records.filter((r) => r.version === version);
  return { name, suite, evals };
}

/** A unified diff of two registered versions of `name`. */
export async function diffVersions(registry: Registry, name: string, from: string, to: string): Promise<VersionDiff> {
  const [a, b] = await Promise.all([registry.get(name, from), registry.get(name, to)]);
  if (a === null || b === null) {
    if ((await registry.versions(name)).length === 0) throw unknownPrompt(name);
    throw new RegistryError("not_found", `prompt ${name} has no registered version ${a === null ? from : to}`, {
      field: "version",
    });
  }
  const left = sections(a);
  const right = sections(b);
  const fields = left
    .filter(([field, text], i) => right[i]?.[0] !== field || right[i][1] !== text)
    .map(([field]) => field);
  const changed = fields.length > 0;
  const patch = changed
    ? createTwoFilesPatch(`${name}@${from}`, `${name}@${to}`, join(left), join(right), undefined, undefined, {
        headerOptions: FILE_HEADERS_ONLY,
      })
    : "";
  return { name, from, to, changed, fields, patch };
}

/**
 * A version as readable text, one section per field: what `show` prints and `diff` compares. Params
 * and variables are one sorted line each, so a diff names the key that changed; each message is its
 * role and its template, indented.
 */
export function describeVersion(v: PromptVersion): string {
  return join(sections(v));
}

type Section = readonly [field: string, text: string];

function sections(v: PromptVersion): Section[] {
  const keyed = (field: string, record: Readonly<Record<string, unknown>>): Section => {
    const keys = Object.keys(record).sort();
    if (keys.length === 0) return [field, `${field}: {}`];
    return [field, [`${field}:`, ...keys.map((k) => `  ${k}: ${canonicalJson(record[k])}`)].join("\n")];
  };
  const template = (field: string, source: string | null): Section => [
    field,
    source === null ? `${field}: (none)` : `${field}:\n${indent(source, "  ")}`,
  ];
  const messages =
    v.messages.length === 0
      ? "messages: (none)"
      : ["messages:", ...v.messages.map((m) => `  ${m.role}:\n${indent(m.content, "    ")}`)].join("\n");
  return [
    ["description", `description: ${v.description}`],
    ["model", `model: ${v.model ?? "(the request's)"}`],
    keyed("params", v.params),
    keyed("variables", v.variables),
    ["messages", messages],
    template("prompt", v.prompt),
    template("instructions", v.instructions),
    // Only when declared: versions without one describe (and diff) as they always did.
    ...(v.segment === undefined ? [] : [["segment", `segment: ${canonicalJson(v.segment)}`] as const]),
  ];
}

const join = (parts: readonly Section[]): string => parts.map(([, text]) => text).join("\n") + "\n";

/** Indents every non-empty line; a trailing newline stays visible as a blank line. */
function indent(text: string, pad: string): string {
  return text
    .split("\n")
    .map((line) => (line === "" ? "" : pad + line))
    .join("\n");
}

/** A registered version whose templates no longer compile is the registry's fault, not the caller's. */
function compileStored(v: PromptVersion): CompiledPrompt {
  try {
    return compilePrompt(v);
  } catch (err) {
    if (err instanceof PromptFileError) throw new GatewayError("internal_error", err.message, { cause: err });
    throw err;
  }
}

async function summarize(registry: Registry, name: string): Promise<PromptSummary> {
  const [versions, labels] = await Promise.all([registry.versions(name), registry.labels(name)]);
  return { name, versions, labels };
}

function parseRef(ref: string, defaultLabel: string): ReturnType<typeof parsePromptRef> {
  try {
    return parsePromptRef(ref, defaultLabel);
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    throw new RegistryError("invalid", `invalid prompt ref "${ref}": expected name, name@label or name@1.2.0`, {
      field: "ref",
      cause: err,
    });
  }
}

function unknownPrompt(name: string): RegistryError {
  return new RegistryError("not_found", `unknown prompt "${name}": push it first`, { field: "name" });
}
