// What a registered prompt version is, once its file has been validated. Shared by the prompt
// compiler, the registry, the request path and the CLI.

export type VariableType = "string" | "integer" | "number" | "boolean" | "array" | "object";

export interface VariableSpec {
  readonly type: VariableType;
  readonly required: boolean;
  /** Applied when the request leaves the variable out; absent means no default. */
  readonly default?: unknown;
  /** For arrays: the type of every item (`items: string` or `items: { type: string }` in the file). */
  readonly items?: Exclude<VariableType, "array" | "object">;
  /** Strings: length bounds; arrays: item-count bounds. */
  readonly min_length?: number;
  readonly max_length?: number;
  /** Numbers and integers (for arrays of them: every item). */
  readonly minimum?: number;
  readonly maximum?: number;
  /** Strings: the allowed values (for arrays of strings: of every item). */
  readonly enum?: readonly string[];
}

export interface PromptMessage {
  readonly role: string;
  /** A Nunjucks template. */
  readonly content: string;
}

/** A prompt's segment dimension (prompts/segment.ts), normalised from the file's `segment`. */
export type SegmentSpec =
  | { readonly kind: "enum"; readonly variable: string; readonly values: readonly string[] }
  | { readonly kind: "bands"; readonly variable: string; readonly bands: readonly number[] }
  | { readonly kind: "header"; readonly values: readonly string[] };

/** A prompt version as written in `config/prompts/<name>/<version>.yaml`, validated. */
export interface PromptVersion {
  readonly name: string;
  /** Semver, e.g. 1.1.0. */
  readonly version: string;
  readonly description: string;
  /** When set, the version pins the model and overrides the request's. */
  readonly model: string | null;
  /** Request defaults (temperature, max_tokens, ...); the request's own values win. */
  readonly params: Readonly<Record<string, unknown>>;
  readonly variables: Readonly<Record<string, VariableSpec>>;
  /** Chat (and responses input) messages; rendered ones come before the request's own. */
  readonly messages: readonly PromptMessage[];
  /** Template for /v1/completions. */
  readonly prompt: string | null;
  /** Template for /v1/responses `instructions`. */
  readonly instructions: string | null;
  /**
   * The segment dimension statistics are read by, when the file declares one. Absent (not null) when
   * not declared, so the content hash of versions without one is what it always was.
   */
  readonly segment?: SegmentSpec;
  /** sha256 (hex) of the canonical JSON of every other field (sorted keys): a registered version is immutable. */
  readonly hash: string;
}

/** A version rendered with one request's variables. */
export interface RenderedPrompt {
  readonly messages: readonly { role: string; content: string }[];
  readonly prompt: string | null;
  readonly instructions: string | null;
}
