// The render budget. Nunjucks renders synchronously, so a runaway template would stall the event loop.
// Running each render in `vm` with a timeout costs ~180 µs per call (a watchdog thread each time), so
// instead templates are compiled with a tick in every loop iteration and macro call, and the filters and
// range() of the guarded environment tick too; a render past its limits stops with RenderLimitError.
// The time limit counts the CPU time of this thread, not wall time: a render that is preempted (busy
// node, CPU quota) or paused by GC is not the template's fault and must not fail.
// Computed lookups (`x[key]`) go through a key check so request data cannot spell `constructor`.
import type { Environment } from "nunjucks";
import { PromptFileError } from "./prompt-file-error.ts";
import { isForbiddenName } from "./template-guard.ts";
import {
  nunjucks,
  transformer,
  walkAst,
  type AstNode,
  type CompilerInstance,
  type EnvironmentTables,
  type NodeClass,
  type TemplateLike,
} from "./nunjucks-internals.ts";
import { plainPlan, renderPlain } from "./plain-template.ts";

export interface RenderLimits {
  /** CPU-time budget of one render (all of a version's templates), checked every 16 ticks. */
  readonly timeoutMs: number;
  /** Characters one render may produce; also bounds filter inputs, outputs and numeric arguments. */
  readonly maxOutputChars: number;
  /** Numbers one range() call may produce. */
  readonly maxRangeLength: number;
}

export const DEFAULT_RENDER_LIMITS: RenderLimits = {
  timeoutMs: 50,
  maxOutputChars: 10_000_000,
  maxRangeLength: 100_000,
};

/** Thrown from inside a render when a limit is hit. */
export class RenderLimitError extends Error {
  override name = "RenderLimitError";
}

/** Thrown from inside a render when a computed lookup key is `constructor`, `__proto__`, ... */
export class RefusedKeyError extends Error {
  override name = "RefusedKeyError";
}

const { nodes } = nunjucks;
const Tick = nodes.Node.extend("PgTick", { fields: [] });
// A FunCall subclass, so that the compiler's expression type check accepts it where a key goes.
const Key = nodes.FunCall.extend("PgKey", { fields: ["expr"] });
const GuardedCompiler = nunjucks.compiler.Compiler.extend("GuardedCompiler", {
  compilePgTick(this: CompilerInstance) {
    this._emitLine("env.pgTick();");
  },
  compilePgKey(this: CompilerInstance, node: AstNode, frame: unknown) {
    this._emit("env.pgKey(");
    this._compileExpression(node.expr as AstNode, frame);
    this._emit(")");
  },
  // Stock nunjucks emits `frame.set("loop.index", ...)` seven times per iteration, and Frame.set
  // splits each name on "." and stores through a keyed lookup: most of the cost of a short loop.
  // This emits the same stores in the same order (fetch or create `loop` in the loop's frame, then
  // its seven fields), with plain property names.
  _emitLoopBindings(this: CompilerInstance, _node: AstNode, _arr: string, i: string, len: string) {
    const loop = this._tmpid();
    this._emitLine(`var ${loop} = frame.variables["loop"];`);
    this._emitLine(`if (!${loop}) ${loop} = frame.variables["loop"] = {};`);
    const bindings: [string, string][] = [
      ["index", `${i} + 1`],
      ["index0", i],
      ["revindex", `${len} - ${i}`],
      ["revindex0", `${len} - ${i} - 1`],
      ["first", `${i} === 0`],
      ["last", `${i} === ${len} - 1`],
      ["length", len],
    ];
    for (const [name, value] of bindings) this._emitLine(`${loop}.${name} = ${value};`);
  },
});

// A plain boolean: every node class constructs an AstNode, so `instanceof` narrowing would mislead TS.
const is = (value: unknown, cls: NodeClass): boolean => value instanceof cls;

function instrument(ast: AstNode): void {
  walkAst(ast, (node) => {
    if (is(node, nodes.For) || is(node, nodes.Macro)) {
      (node.body as { children: AstNode[] }).children.unshift(new Tick(node.lineno, node.colno));
    } else if (is(node, nodes.LookupVal) && !is(node.val, nodes.Literal)) {
      (node as unknown as { val: unknown }).val = new Key(node.lineno, node.colno, node.val);
    }
  });
}

/** One guarded Environment (no loaders, no autoescape, undefined output throws) and its budget. */
export class RenderGuard {
  readonly env: Environment;
  readonly limits: RenderLimits;
  /** Why the last render stopped, when a limit stopped it. */
  limitHit: string | null = null;
  refusedKey: string | null = null;
  /** Thread CPU time (ms) at the render's first check; -1 before it. */
  #cpuStart = -1;
  #ticks = 0;
  #output = 0;
  #filters: EnvironmentTables["filters"];

  constructor(limits: RenderLimits) {
    this.limits = limits;
    this.env = new nunjucks.Environment([], { autoescape: false, throwOnUndefined: true, dev: true });
    const tables = this.env as unknown as EnvironmentTables;
    this.#filters = tables.filters;
    for (const [name, filter] of Object.entries(tables.filters)) tables.filters[name] = this.#guardFilter(name, filter);
    tables.globals.range = (start: unknown, stop?: unknown, step?: unknown) => this.#range(start, stop, step);
    Object.assign(this.env, { pgTick: () => this.tick(), pgKey: (key: unknown) => this.key(key) });
  }

  /** Starts the budget of one render. */
  start(): void {
    this.#cpuStart = -1;
    this.#ticks = 0;
    this.#output = 0;
    this.limitHit = null;
    this.refusedKey = null;
  }

  // Reading thread CPU time costs ~0.4 µs, so it happens every 16 ticks, and the clock starts at the
  // first check: the many renders with fewer than 16 ticks (bounded work each) never read it.
  tick(): void {
    if ((++this.#ticks & 15) !== 0) return;
    const usage = process.threadCpuUsage();
    const cpuMs = (usage.user + usage.system) / 1000;
    if (this.#cpuStart < 0) this.#cpuStart = cpuMs;
    else if (cpuMs - this.#cpuStart > this.limits.timeoutMs)
      this.exceed(`it used more than ${this.limits.timeoutMs} ms of CPU time`);
  }

  /** Counts one template's output against the render's character budget. */
  addOutput(chars: number): void {
    this.#output += chars;
    if (this.#output > this.limits.maxOutputChars)
      this.exceed(`it produced more than ${this.limits.maxOutputChars} characters`);
  }

  exceed(reason: string): never {
    this.limitHit = reason;
    throw new RenderLimitError(reason);
  }

  /** The property key a computed lookup will use, coerced once, refused when it reaches internals. */
  key(key: unknown): unknown {
    if (typeof key === "number") return key;
    const name = String(key);
    if (isForbiddenName(name)) {
      this.refusedKey = name;
      throw new RefusedKeyError(`looking up "${name}" is not allowed`);
    }
    return name;
  }

  /**
   * Compiles one template with ticks and key checks; `where` names it in errors (PromptFileError). A
   * template of only text and `{{ variable }}` outputs renders from its plain plan when it can.
   */
  compile(source: string, where: string): TemplateLike {
    const ast = transformer.transform(nunjucks.parser.parse(source), []);
    walkAst(ast, (node) => {
      const name = is(node, nodes.Filter) ? (node.name as AstNode).value : undefined;
      if (typeof name === "string" && !Object.hasOwn(this.#filters, name)) {
        throw new PromptFileError(
          `${where}: line ${node.lineno + 1}, column ${node.colno + 1}: unknown filter "${name}"`,
        );
      }
    });
    const plan = plainPlan(ast);
    const template = this.#compileGuarded(ast, where);
    if (plan === null) return template;
    return { render: (vars) => renderPlain(plan, vars) ?? template.render(vars) };
  }

  #compileGuarded(ast: AstNode, where: string): TemplateLike {
    instrument(ast);
    const compiler = new GuardedCompiler(where, true);
    compiler.compile(ast);
    // Nunjucks' own Template does the same with the code its compiler generates.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const props = (new Function(compiler.getCode()) as () => unknown)();
    return new nunjucks.Template({ type: "code", obj: props }, this.env, where, true);
  }

  #guardFilter(
    name: string,
    filter: (this: unknown, ...args: unknown[]) => unknown,
  ): (this: unknown, ...args: unknown[]) => unknown {
    const before = (args: unknown[]): void => {
      const max = this.limits.maxOutputChars;
      this.tick();
      for (let i = 0; i < args.length; i++) {
        const a = args[i];
        if (typeof a === "string" && a.length > max)
          this.exceed(`filter "${name}" was given ${a.length} characters (limit ${max})`);
        if (i > 0 && typeof a === "number" && Math.abs(a) > max)
          this.exceed(`filter "${name}" was given the argument ${a} (limit ${max})`);
      }
    };
    const after = (out: unknown): unknown => {
      const max = this.limits.maxOutputChars;
      if (typeof out === "string" && out.length > max)
        this.exceed(`filter "${name}" produced ${out.length} characters (limit ${max})`);
      return out;
    };
    // Filters are called with the render Context as `this` (selectattr and friends read it).
    return function guardedFilter(this: unknown, ...args: unknown[]): unknown {
      before(args);
      return after(filter.apply(this, args));
    };
  }

  // nunjucks' range() (globals.js), with its length checked before any number is produced.
  #range(start: unknown, stop: unknown, step: unknown): number[] {
    let from = Number(start);
    let to = Number(stop);
    let by = Number(step);
    if (stop === undefined) [from, to, by] = [0, from, 1];
    else if (!by) by = 1;
    const length = Math.ceil((to - from) / by);
    if (length > this.limits.maxRangeLength)
      this.exceed(`range() asked for ${length} numbers (limit ${this.limits.maxRangeLength})`);
    const out: number[] = [];
    if (by > 0) for (let i = from; i < to; i += by) out.push(i);
    else for (let i = from; i > to; i += by) out.push(i);
    return out;
  }
}
