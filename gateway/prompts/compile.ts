// Compiles a prompt version's templates once, at registration or snapshot load, and renders them per
// request with already-resolved variables. Request data is only ever a variable, never template source.
import { GatewayError } from "../errors/gateway-error.ts";
import type { TemplateErrorLike, TemplateLike } from "./nunjucks-internals.ts";
import { PromptFileError } from "./prompt-file-error.ts";
import { DEFAULT_RENDER_LIMITS, RenderGuard, type RenderLimits } from "./render-guard.ts";
import { checkTemplate } from "./template-guard.ts";
import type { PromptVersion, RenderedPrompt } from "./types.ts";

export { DEFAULT_RENDER_LIMITS, type RenderLimits };

export interface CompiledPrompt {
  readonly version: PromptVersion;
  /**
   * Renders every template of the version. `vars` comes from `resolveVariables`. Throws GatewayError:
   * 400 `invalid_request` for a template error (an undefined value, a refused lookup key), naming the
   * prompt, the template, the position and the variable; 500 `internal_error` when the render hits its
   * limits (time, output size, range length, stack): the template, not the request, is at fault.
   */
  render(vars: Record<string, unknown>): RenderedPrompt;
}

interface Unit {
  readonly field: string;
  readonly source: string;
  readonly template: TemplateLike;
}

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

/** Compiles (and checks) every template of `v`; throws PromptFileError naming the template. */
export function compilePrompt(v: PromptVersion, limits: Partial<RenderLimits> = {}): CompiledPrompt {
  const guard = new RenderGuard({ ...DEFAULT_RENDER_LIMITS, ...limits });
  const id = `${v.name}@${v.version}`;

  const compileOne = (source: string, field: string): Unit => {
    const where = `prompt ${id}: ${field}`;
    checkTemplate(source, where);
    try {
      return { field, source, template: guard.compile(source, where) };
    } catch (err) {
      if (err instanceof PromptFileError) throw err;
      const e = err as TemplateErrorLike;
      const pos = e.lineno === undefined ? "" : ` line ${e.lineno}, column ${e.colno ?? 0}:`;
      throw new PromptFileError(`${where}:${pos} cannot compile: ${reasonOf(e)}`, { cause: err });
    }
  };

  const renderError = (err: unknown, unit: Unit): GatewayError => {
    const e = err as TemplateErrorLike;
    const pos = e.lineno ? `: line ${e.lineno}, column ${e.colno ?? 0}` : "";
    const where = `prompt ${id}: ${unit.field}${pos}`;
    const cause = e.cause ?? err;
    if (guard.limitHit !== null || cause instanceof RangeError) {
      const reason = guard.limitHit ?? (cause instanceof Error ? cause.message : String(cause));
      const { timeoutMs, maxOutputChars } = guard.limits;
      return new GatewayError(
        "internal_error",
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
    const reason = reasonOf(e);
    const name = e.lineno && reason.includes("null or undefined") ? nameAt(unit.source, e.lineno, e.colno ?? 1) : null;
    const root = name?.split(".")[0];
    const declared = root !== undefined && Object.hasOwn(v.variables, root);
    return new GatewayError(
      "invalid_request",
      `${where}: ${name === null ? reason : `"${name}" is undefined or null (${reason})`}`,
      {
        cause: err,
        ...(declared && { param: `prompt_variables.${root}` }),
      },
    );
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

/** Compiles every version, keyed `name@version`; the first invalid template throws. */
export function compileAll(
  versions: readonly PromptVersion[],
  limits: Partial<RenderLimits> = {},
): Map<string, CompiledPrompt> {
  return new Map(versions.map((v) => [`${v.name}@${v.version}`, compilePrompt(v, limits)]));
}
