// Compiles a prompt version's templates once, at registration or snapshot load, and renders them per
// request with already-resolved variables. Request data is only ever a variable, never template source.
// Registration (`compileForRegistration`) also refuses templates that read undeclared names; a version
// registered before that rule still compiles, and a render failure is then the prompt's 500.
import { GatewayError } from "../errors/gateway-error.ts";
import type { TemplateErrorLike, TemplateLike } from "./nunjucks-internals.ts";
import { PromptFileError } from "./prompt-file-error.ts";
import { DEFAULT_RENDER_LIMITS, RenderGuard, type RenderLimits } from "./render-guard.ts";
import { checkTemplate, findUndeclared, type UndeclaredUse } from "./template-guard.ts";
import type { PromptVersion, RenderedPrompt } from "./types.ts";

export { DEFAULT_RENDER_LIMITS, type RenderLimits };

/** A name a template reads that the version does not declare, and the template (`messages[0].content`). */
export interface UndeclaredName extends UndeclaredUse {
  readonly field: string;
}

export interface CompiledPrompt {
  readonly version: PromptVersion;
  /** What the templates read without declaring it (see `findUndeclared`); registration refuses any. */
  readonly undeclared: readonly UndeclaredName[];
  /**
   * Renders every template of the version. `vars` comes from `resolveVariables`. Throws GatewayError:
   * 400 `invalid_request` when a computed lookup spells a refused key (request data can); otherwise a
   * render failure is the prompt's fault, a 500 `template_error` naming the prompt, version, template
   * and position (an undefined value, a call of something that is not a function, the render limits),
   * with no template text and no variable value in its message.
   */
  render(vars: Record<string, unknown>): RenderedPrompt;
}

interface Unit {
  readonly field: string;
  readonly source: string;
  readonly template: TemplateLike;
}

/** The RangeErrors V8 throws when a render outgrows the engine rather than the render guard's limits. */
const ENGINE_LIMITS: ReadonlySet<string> = new Set([
  "Maximum call stack size exceeded",
  "Invalid string length",
  "Invalid array length",
]);

const PATH = /^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$/;

/** The dotted name at the start of an output tag (`{{ focus.title }}`) where nunjucks reports an error. */
function nameAt(source: string, lineno: number, colno: number): string | null {
  const line = source.split("\n")[lineno - 1] ?? "";
  const m = /^(?:\{\{-?\s*)?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)/.exec(line.slice(colno - 1));
  return m?.[1] ?? null;
}

function reasonOf(err: TemplateErrorLike): string {
  if (err.cause instanceof Error) return err.cause.message;
  // With `dev: true` nunjucks prefixes "(name) [Line l, Column c]\n  " to its own messages.
  const nl = err.message.indexOf("\n");
  return (nl === -1 ? err.message : err.message.slice(nl + 1)).trim();
}

/** `prompt t@1.0.0: messages[0].content: line 1, column 4: "usr" is not declared ...` */
export function describeUndeclared(v: PromptVersion, u: UndeclaredName): string {
  const declared = Object.keys(v.variables);
  return (
    `prompt ${v.name}@${v.version}: ${u.field}: line ${u.line}, column ${u.column}: "${u.name}" is not a declared ` +
    `variable (declared: ${declared.length > 0 ? declared.join(", ") : "none"}): declare it under variables, ` +
    `or bind it in the template with {% set %}, a for loop or a macro argument`
  );
}

/** Compiles (and checks) every template of `v`; throws PromptFileError naming the template. */
export function compilePrompt(v: PromptVersion, limits: Partial<RenderLimits> = {}): CompiledPrompt {
  const guard = new RenderGuard({ ...DEFAULT_RENDER_LIMITS, ...limits });
  const id = `${v.name}@${v.version}`;
  const declared = Object.keys(v.variables);
  const undeclared: UndeclaredName[] = [];

  const compileOne = (source: string, field: string): Unit => {
    const where = `prompt ${id}: ${field}`;
    checkTemplate(source, where);
    for (const use of findUndeclared(source, declared)) undeclared.push({ field, ...use });
    try {
      return { field, source, template: guard.compile(source, where) };
    } catch (err) {
      if (err instanceof PromptFileError) throw err;
      const e = err as TemplateErrorLike;
      const pos = e.lineno === undefined ? "" : ` line ${e.lineno}, column ${e.colno ?? 0}:`;
      throw new PromptFileError(`${where}:${pos} cannot compile: ${reasonOf(e)}`, { cause: err });
    }
  };

  // What went wrong and where, in words that hold no template text and no variable value (names
  // only). nunjucks knows where an output was undefined (1-based) and where a call failed (the call's
  // node, 0-based); any other error carries the position of the last call made, so none is given.
  const failure = (e: TemplateErrorLike, unit: Unit): string => {
    const reason = reasonOf(e);
    const failed = (line: number, column: number, what: string): string =>
      `line ${line}, column ${column}: the template failed to render: ${what}`;
    if (!(e.cause instanceof Error) && reason.includes("null or undefined") && e.lineno) {
      const name = nameAt(unit.source, e.lineno, e.colno ?? 1);
      if (name === null) return failed(e.lineno, e.colno ?? 1, "a value it outputs is undefined or null");
      const root = name.split(".")[0]!;
      const note = undeclared.some((u) => u.name === root && u.field === unit.field)
        ? ` ("${root}" is not a declared variable)`
        : "";
      return failed(e.lineno, e.colno ?? 1, `"${name}" is undefined or null${note}`);
    }
    const call = /^Unable to call `(.*)`, which is (?:undefined or falsey|not a function)$/.exec(reason);
    if (call !== null && e.lineno !== undefined) {
      const callee = PATH.test(call[1]!)
        ? `"${call[1]}" is not a function`
        : "it calls something that is not a function";
      return failed(e.lineno + 1, (e.colno ?? 0) + 1, callee);
    }
    const cause = e.cause ?? e;
    return `the template failed to render: ${cause instanceof Error ? cause.name : "an error"} thrown`;
  };

  const renderError = (err: unknown, unit: Unit): GatewayError => {
    const e = err as TemplateErrorLike;
    const where = `prompt ${id}: ${unit.field}`;
    const cause = e.cause ?? err;
    const engineLimit = cause instanceof RangeError && ENGINE_LIMITS.has(cause.message) ? cause.message : null;
    if (guard.limitHit !== null || engineLimit !== null) {
      const reason = guard.limitHit ?? engineLimit;
      const { timeoutMs, maxOutputChars } = guard.limits;
      return new GatewayError(
        "template_error",
        `${where}: rendering stopped because ${reason}: the template does too much work for these variables (limits: ${timeoutMs} ms, ${maxOutputChars} characters)`,
        { cause: err },
      );
    }
    if (guard.refusedKey !== null) {
      return new GatewayError(
        "invalid_request",
        `${where}: looking up "${guard.refusedKey}" is not allowed in a template`,
        { cause: err },
      );
    }
    return new GatewayError("template_error", `${where}: ${failure(e, unit)}`, { cause: err });
  };

  const run = (unit: Unit, vars: Record<string, unknown>): string => {
    try {
      const out = unit.template.render(vars);
      guard.addOutput(out.length);
      return out;
    } catch (err) {
      throw renderError(err, unit);
    }
  };

  const messages = v.messages.map((m, i) => ({ role: m.role, unit: compileOne(m.content, `messages[${i}].content`) }));
  const prompt = v.prompt === null ? null : compileOne(v.prompt, "prompt");
  const instructions = v.instructions === null ? null : compileOne(v.instructions, "instructions");

  return {
    version: v,
    undeclared,
    render(vars: Record<string, unknown>): RenderedPrompt {
      guard.start();
      return {
        messages: messages.map((m) => ({ role: m.role, content: run(m.unit, vars) })),
        prompt: prompt === null ? null : run(prompt, vars),
        instructions: instructions === null ? null : run(instructions, vars),
      };
    },
  };
}

/**
 * Compiles `v` to register it (push, start-up sync, admin API): everything `compilePrompt` checks, and
 * no template may read a name the version does not declare. Throws PromptFileError, one line per name.
 */
export function compileForRegistration(v: PromptVersion, limits: Partial<RenderLimits> = {}): CompiledPrompt {
  const compiled = compilePrompt(v, limits);
  if (compiled.undeclared.length > 0)
    throw new PromptFileError(compiled.undeclared.map((u) => describeUndeclared(v, u)).join("\n"));
  return compiled;
}

/**
 * A version that did not compile when the snapshot loaded (logged then): it still resolves, so its
 * requests are counted under it, and every render is its 500.
 */
export function uncompilablePrompt(v: PromptVersion): CompiledPrompt {
  return {
    version: v,
    undeclared: [],
    render(): never {
      throw new GatewayError(
        "template_error",
        `prompt ${v.name}@${v.version}: its templates do not compile; see the gateway log`,
      );
    },
  };
}

/** Compiles every version, keyed `name@version`; the first invalid template throws. */
export function compileAll(
  versions: readonly PromptVersion[],
  limits: Partial<RenderLimits> = {},
): Map<string, CompiledPrompt> {
  return new Map(versions.map((v) => [`${v.name}@${v.version}`, compilePrompt(v, limits)]));
}
