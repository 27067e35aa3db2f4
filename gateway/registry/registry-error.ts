// What the registry's rules throw: the request conflicts with the registry's state (a changed version,
// a label moved concurrently, a version never on staging), names something that is not there, or is
// not valid. Callers decide what that means to them: the HTTP layer answers 409, 404 or 400
// (http/error-response.ts), the CLI prints the message and exits 1.

export type RegistryErrorKind = "conflict" | "not_found" | "invalid";

export interface RegistryErrorOptions {
  /** The input at fault (`version`, `env`, `weights`, ...): the admin API's OpenAI `param`. */
  readonly field?: string;
  readonly cause?: unknown;
}

export class RegistryError extends Error {
  readonly kind: RegistryErrorKind;
  readonly field: string | null;

  constructor(kind: RegistryErrorKind, message: string, options: RegistryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RegistryError";
    this.kind = kind;
    this.field = options.field ?? null;
  }
}
