// A request's template variables (`X-Prompt-Vars` or the body's `prompt_variables`) checked against the
// version's declarations: unknown, missing, mistyped and oversized variables are a 400 naming the
// variable; the declared defaults fill the gaps. The same value check validates defaults when a file is
// loaded. Request data is bounded even where a prompt declares no bounds (docs/design.md, "Prompts"):
// a template loop over 100,000 items would spend the render budget and fail as the prompt's 500.
import { GatewayError } from "../errors/gateway-error.ts";
import { cloneJson, isPlainObject } from "../support/json-value.ts";
import { FORBIDDEN_KEYS } from "./template-guard.ts";
import type { PromptVersion, VariableSpec, VariableType } from "./types.ts";

/** Request data nested deeper than this is refused (and keeps the key walk off the stack limit). */
export const MAX_VARIABLE_DEPTH = 64;
/** Characters of a string variable that declares no `max_length`. */
export const DEFAULT_MAX_STRING_LENGTH = 1_000_000;
/** Items of an array variable that declares no `max_length`. */
export const DEFAULT_MAX_ARRAY_ITEMS = 1_000;
/** Values (array items and object members, at any depth) in one array or object variable; a larger
 * declared `max_length` raises it to that. */
export const MAX_VARIABLE_VALUES = 10_000;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? `integer ${value}` : `number ${value}`;
  return typeof value;
}

function hasType(type: VariableType, value: unknown): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
    case "array":
      return Array.isArray(value);
    case "object":
      return isPlainObject(value);
  }
}

function checkBounds(spec: VariableSpec, value: unknown, type: VariableType): string | null {
  if (typeof value === "number") {
    if (spec.minimum !== undefined && value < spec.minimum) return `expected ${type} >= ${spec.minimum}, got ${value}`;
    if (spec.maximum !== undefined && value > spec.maximum) return `expected ${type} <= ${spec.maximum}, got ${value}`;
  }
  if (typeof value === "string" && spec.enum !== undefined && !spec.enum.includes(value)) {
    return `expected one of ${spec.enum.join("|")}`;
  }
  return null;
}

/**
 * Why `value` does not satisfy `spec`, or null when it does. For arrays, `min_length`/`max_length`
 * bound the item count and `enum`/`minimum`/`maximum` apply to each item.
 */
export function describeMismatch(spec: VariableSpec, value: unknown): string | null {
  if (!hasType(spec.type, value)) return `expected ${spec.type}, got ${describe(value)}`;
  if (typeof value === "string" || Array.isArray(value)) {
    const unit = typeof value === "string" ? "characters" : "items";
    if (spec.min_length !== undefined && value.length < spec.min_length) {
      return `expected at least ${spec.min_length} ${unit}, got ${value.length}`;
    }
    if (spec.max_length !== undefined && value.length > spec.max_length) {
      return `expected at most ${spec.max_length} ${unit}, got ${value.length}`;
    }
    const cap = typeof value === "string" ? DEFAULT_MAX_STRING_LENGTH : DEFAULT_MAX_ARRAY_ITEMS;
    if (spec.max_length === undefined && value.length > cap) {
      return `expected at most ${cap} ${unit} (the cap for a variable that declares no max_length), got ${value.length}`;
    }
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (spec.items !== undefined && !hasType(spec.items, item)) {
        return `item ${i}: expected ${spec.items}, got ${describe(item)}`;
      }
      const bad = checkBounds(spec, item, spec.items ?? "number");
      if (bad !== null) return `item ${i}: ${bad}`;
    }
    return null;
  }
  return checkBounds(spec, value, spec.type);
}

const join = (path: string, key: string): string => (path === "" ? key : `${path}.${key}`);

interface Refusal {
  readonly path: string;
  readonly reason: string;
}

/** How many more values a walk may visit before the variable at `path` is refused as too large. */
interface ValueBudget {
  left: number;
  readonly cap: number;
  readonly path: string;
}

/** The first forbidden key inside `value`, at any depth, with its path (e.g. `x.a[2].__proto__`). */
export function findForbiddenKey(value: unknown, path: string, depth: number): Refusal | null {
  return inspect(value, path, depth, null);
}

/** Forbidden keys, depth and (with a budget) the number of values, in one walk. */
function inspect(value: unknown, path: string, depth: number, budget: ValueBudget | null): Refusal | null {
  if (typeof value !== "object" || value === null) return null;
  if (depth > MAX_VARIABLE_DEPTH) return { path, reason: `nested deeper than ${MAX_VARIABLE_DEPTH} levels` };
  if (Array.isArray(value)) {
    // Arrays from JSON only have index keys; a non-index own key can only come from other code.
    for (const key of FORBIDDEN_KEYS)
      if (Object.hasOwn(value, key)) return { path: join(path, key), reason: `the key "${key}" is not allowed` };
    if (budget !== null && (budget.left -= value.length) < 0) return tooMany(budget);
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item !== "object" || item === null) continue;
      const inner = inspect(item, `${path}[${i}]`, depth + 1, budget);
      if (inner !== null) return inner;
    }
    return null;
  }
  const keys = Object.keys(value);
  if (budget !== null && (budget.left -= keys.length) < 0) return tooMany(budget);
  for (const key of keys) {
    const here = join(path, key);
    if (FORBIDDEN_KEYS.has(key)) return { path: here, reason: `the key "${key}" is not allowed` };
    const inner = inspect((value as Record<string, unknown>)[key], here, depth + 1, budget);
    if (inner !== null) return inner;
  }
  return null;
}

function tooMany(budget: ValueBudget): Refusal {
  return {
    path: budget.path,
    reason: `holds more than ${budget.cap} values (array items and object members, at any depth)`,
  };
}

function refuse(param: string, message: string): GatewayError {
  return new GatewayError("invalid_request", message, { param });
}

/**
 * Validates `given` against `spec` and applies defaults (deep-copied: a template or a later request can
 * never change a version's default). `null` counts as "not given". The result holds only declared
 * names (identifiers, never `__proto__` and friends: prompt-file.ts refuses them), in declaration
 * order: a plain object with one shape per version, which nunjucks copies quickly into each render.
 */
export function resolveVariables(spec: PromptVersion["variables"], given: unknown): Record<string, unknown> {
  const input = given === undefined ? {} : given;
  if (!isPlainObject(input)) {
    throw refuse(
      "prompt_variables",
      `prompt_variables must be a JSON object of template variables, got ${describe(input)}`,
    );
  }
  for (const name of Object.keys(input)) {
    if (FORBIDDEN_KEYS.has(name))
      throw refuse(`prompt_variables.${name}`, `prompt_variables: the key "${name}" is not allowed`);
    if (!Object.hasOwn(spec, name)) {
      const declared = Object.keys(spec);
      const list = declared.length > 0 ? declared.join(", ") : "none";
      throw refuse(
        `prompt_variables.${name}`,
        `prompt_variables.${name}: unknown variable "${name}" (declared: ${list})`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(spec)) {
    const v = spec[name]!;
    const param = `prompt_variables.${name}`;
    const value = Object.hasOwn(input, name) ? input[name] : undefined;
    if (value === undefined || value === null) {
      if (v.required) throw refuse(param, `${param}: missing required variable "${name}" (${v.type})`);
      if (v.default !== undefined) out[name] = cloneJson(v.default);
      continue;
    }
    // The type and length first: they cost nothing, and they refuse a 100,000-item array before a walk.
    const mismatch = describeMismatch(v, value);
    if (mismatch !== null) throw refuse(param, `${param}: ${mismatch}`);
    if (typeof value === "object") {
      const cap = Math.max(MAX_VARIABLE_VALUES, v.max_length ?? 0);
      const bad = inspect(value, param, 1, { left: cap, cap, path: param });
      if (bad !== null) throw refuse(param, `${bad.path}: ${bad.reason}`);
    }
    out[name] = value;
  }
  return out;
}
