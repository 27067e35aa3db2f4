// The prompt registry: immutable content-hashed versions, environment labels moved by promote and
// rollback under compare-and-set, and an append-only audit of every change. Key layout: store/keys.ts.
import { randomUUID } from "node:crypto";
import semver from "semver";
import type { Clock } from "../support/clock.ts";
import type { PromptVersion } from "../prompts/types.ts";
import type { Store } from "../store/store.ts";
import { appendAudit, notifyChange, readHistory } from "./audit.ts";
import { ENVIRONMENTS, isEnvironment, type Environment } from "./environments.ts";
import {
  evalsKey,
  labelKey,
  parseVersionKey,
  PROMPTS_PREFIX,
  suiteKey,
  versionKey,
  versionsPrefix,
} from "../store/keys.ts";
import {
  decidingRecord,
  MAX_EVAL_RECORD_BYTES,
  newEvalRecordSchema,
  parseEvalRecord,
  parseSuiteRecord,
} from "./eval-records.ts";
import type { EvalRecord, NewEvalRecord, SuiteRecord } from "./eval-records.ts";
import { parseLabelRecord, parsePromptVersion, toLabel } from "./records.ts";
import { MAX_RECORD_BYTES } from "./refresh-reads.ts";
import { RegistryError } from "./registry-error.ts";
import type { AuditEntry, Label, LabelRecord, PromotionGate } from "./records.ts";

export interface PromoteOptions {
  readonly approvedBy: string;
  /**
   * Skips the rules that a version must have been on staging before prod and, for a prompt with a suite, that
   * it has a passing eval record; recorded in the audit with the rules it bypassed.
   */
  readonly force?: boolean;
  /**
   * What the caller knows of the prompt's evaluation suite (the CLI looks for `config/evals/<name>.yaml`):
   * `{ hash }` the suite exists with this hash; `{ hash: null }` it exists, its hash not computed (the one the
   * registry holds is used). Omitted: the caller cannot tell, and the suite the registry holds decides. A caller
   * can add the suite rule, never lift it.
   */
  readonly suite?: { readonly hash: string | null };
}

export interface PromoteResult {
  /** False when the label already pointed at this version: nothing was written. */
  readonly changed: boolean;
  readonly from: string | null;
  readonly to: string;
  /** True when `force` actually bypassed a rule (the staging rule, the eval rule). */
  readonly forced: boolean;
  /** With `forced`: the rules bypassed. */
  readonly forcedPast?: readonly PromotionGate[];
  /** The passing eval record the promotion relied on (prompts with a suite, to staging or prod). */
  readonly evalId?: string;
}

/** One promotion rule's verdict: `not_required` when it does not apply to this environment or prompt. */
export interface GateVerdict {
  readonly gate: PromotionGate;
  readonly status: "passed" | "refused" | "not_required";
  /** In words: why it passed, why it refuses, or why it does not apply. */
  readonly message: string;
  /** The eval rule: the record it relies on (passed) or the one that refuses (a failing run). */
  readonly evalId?: string;
}

export interface PromotionCheck {
  readonly name: string;
  readonly version: string;
  readonly env: Environment;
  /** Where the label points now; null when it points nowhere yet. */
  readonly from: string | null;
  /** False when the label already points at the version: promoting would write nothing. */
  readonly changes: boolean;
  /** True when `promote` without force would go through. */
  readonly allowed: boolean;
  /** True when it would go through only with force (some rule refuses). */
  readonly needsForce: boolean;
  readonly gates: readonly GateVerdict[];
}

export interface RollbackResult {
  readonly from: string;
  readonly to: string;
}

export interface Registry {
  /** Same name+version+hash again is a no-op; a different hash is a conflict (versions are immutable). */
  register(version: PromptVersion, actor: string): Promise<{ created: boolean }>;
  get(name: string, version: string): Promise<PromptVersion | null>;
  /** Registered versions of `name`, ascending by semver. */
  versions(name: string): Promise<string[]>;
  /** Every prompt name with at least one version, sorted. */
  names(): Promise<string[]>;
  label(name: string, env: string): Promise<Label | null>;
  labels(name: string): Promise<Record<Environment, Label | null>>;
  promote(name: string, version: string, env: string, opts: PromoteOptions): Promise<PromoteResult>;
  /**
   * What `promote` would decide now, without writing: each promotion rule with its verdict, and whether the
   * promotion would go through (or only with force). 404 for an unregistered version, as `promote`.
   */
  checkPromotion(
    name: string,
    version: string,
    env: string,
    opts?: Pick<PromoteOptions, "suite">,
  ): Promise<PromotionCheck>;
  rollback(name: string, env: string, opts: { readonly actor: string }): Promise<RollbackResult>;
  /** The audit history of `name`, oldest first. */
  history(name: string): Promise<AuditEntry[]>;
  /**
   * Stores one evaluation run's summary against the exact version it ran (the content hash must be the
   * registered one), makes its suite hash the prompt's current suite, and audits it. Returns it with its id.
   */
  recordEval(record: NewEvalRecord): Promise<EvalRecord>;
  /** The eval records of `name`, oldest first (unreadable ones skipped). */
  evals(name: string): Promise<EvalRecord[]>;
  /** The suite the registry holds for `name`: the hash of the suite last evaluated; null when none. */
  suite(name: string): Promise<SuiteRecord | null>;
}

/** How many earlier versions a label remembers for rollback. */
export const MAX_PREVIOUS = 50;

// Names become key segments and `X-Prompt-Ref` parts (`name@label`): no ':', '@', '/', whitespace or globs.
const NAME = /^[^\s:@/\\*?[\]]+$/u;

export function createRegistry(store: Store, clock: Clock): Registry {
  const now = (): string => new Date(clock.now()).toISOString();

  const registry: Registry = {
    async register(version, actor) {
      assertName(version.name);
      assertSemver(version.version);
      assertPresent(actor, "actor");
      assertPresent(version.hash, "hash");
      const { name } = version;
      const key = versionKey(name, version.version);
      const record = JSON.stringify(version);
      const bytes = Buffer.byteLength(record);
      if (bytes > MAX_RECORD_BYTES) {
        // The gateway's refresh skips larger records: refuse what it would never serve.
        throw new RegistryError(
          "invalid",
          `${name}@${version.version} is ${bytes} bytes as stored, more than the ${MAX_RECORD_BYTES} a version may be`,
          { field: "version" },
        );
      }
      if (await store.setIfAbsent(key, record)) {
        await appendAudit(store, clock, { actor, action: "register", name, version: version.version });
        await notifyChange(store);
        return { created: true };
      }
      const existing = await store.get(key);
      const stored = existing === null ? null : parsePromptVersion(existing);
      if (stored?.hash === version.hash) return { created: false };
      throw new RegistryError(
        "conflict",
        `${name}@${version.version} is already registered with different content ` +
          `(stored hash ${stored?.hash ?? "unreadable"}, new hash ${version.hash}); ` +
          "a registered version is immutable: bump the version",
        { field: "version" },
      );
    },

    async get(name, version) {
      const raw = await store.get(versionKey(name, version));
      return raw === null ? null : parsePromptVersion(raw);
    },

    async versions(name) {
      const found: string[] = [];
      for (const key of await store.keys(versionsPrefix(name))) {
        const parsed = parseVersionKey(key);
        if (parsed?.name === name && semver.valid(parsed.version) === parsed.version) found.push(parsed.version);
      }
      return found.sort(semver.compare);
    },

    async names() {
      const names = new Set<string>();
      for (const key of await store.keys(PROMPTS_PREFIX)) {
        const parsed = parseVersionKey(key);
        if (parsed) names.add(parsed.name);
      }
      return [...names].sort();
    },

    async label(name, env) {
      assertEnvironment(env);
      const raw = await store.get(labelKey(env, name));
      const record = raw === null ? null : parseLabelRecord(raw);
      return record ? toLabel(record) : null;
    },

    async labels(name) {
      const raws = await store.mget(ENVIRONMENTS.map((env) => labelKey(env, name)));
      const out = {} as Record<Environment, Label | null>;
      ENVIRONMENTS.forEach((env, i) => {
        const raw = raws[i];
        const record = raw == null ? null : parseLabelRecord(raw);
        out[env] = record ? toLabel(record) : null;
      });
      return out;
    },

    async checkPromotion(name, version, env, opts = {}) {
      assertEnvironment(env);
      const d = await decide(name, version, env, opts.suite);
      const refused = d.gates.some((g) => g.refusal !== null);
      return {
        name,
        version,
        env,
        from: d.current?.version ?? null,
        changes: d.current?.version !== version,
        allowed: d.current?.version === version || !refused,
        needsForce: d.current?.version !== version && refused,
        gates: d.gates.map((g) => g.verdict),
      };
    },

    async promote(name, version, env, opts) {
      assertEnvironment(env);
      assertPresent(opts.approvedBy, "approved_by");
      const key = labelKey(env, name);
      const { currentRaw, current, gates } = await decide(name, version, env, opts.suite);
      if (current?.version === version) return { changed: false, from: version, to: version, forced: false };

      const forcedPast: PromotionGate[] = [];
      for (const g of gates) {
        if (g.refusal === null) continue;
        if (opts.force !== true) throw g.refusal;
        forcedPast.push(g.verdict.gate);
      }
      const evalId = gates.find((g) => g.verdict.gate === "eval" && g.verdict.status === "passed")?.verdict.evalId;
      const forced = forcedPast.length > 0;

      const next: LabelRecord = {
        version,
        previous: current ? [current.version, ...current.previous].slice(0, MAX_PREVIOUS) : [],
        approvedBy: opts.approvedBy,
        at: now(),
        everOn: current ? [...new Set([...current.everOn, version])] : [version],
      };
      if (!(await store.compareAndSet(key, currentRaw, JSON.stringify(next)))) throw labelConflict(name, env);

      const from = current?.version ?? null;
      await appendAudit(store, clock, {
        actor: opts.approvedBy,
        action: "promote",
        name,
        env,
        ...(from === null ? {} : { from }),
        to: version,
        ...(forced ? { forced, forcedPast } : {}),
        ...(evalId === undefined ? {} : { evalId }),
      });
      await notifyChange(store);
      return {
        changed: true,
        from,
        to: version,
        forced,
        ...(forced ? { forcedPast } : {}),
        ...(evalId === undefined ? {} : { evalId }),
      };
    },

    async rollback(name, env, opts) {
      assertEnvironment(env);
      assertPresent(opts.actor, "actor");
      const key = labelKey(env, name);
      const raw = await store.get(key);
      const current = raw === null ? null : parseLabelRecord(raw);
      if (raw === null || current === null) {
        throw new RegistryError("conflict", `${name} has no ${env} label: nothing to roll back`);
      }
      const [to, ...rest] = current.previous;
      if (to === undefined) {
        // Also the bottom of a full stack: what came before the last MAX_PREVIOUS moves is forgotten.
        throw new RegistryError(
          "conflict",
          `${name}@${env} points at ${current.version} and has no earlier version ` +
            `(a label remembers its last ${MAX_PREVIOUS}): nothing to roll back to; promote the version you want instead`,
        );
      }
      const next: LabelRecord = {
        version: to,
        previous: rest.slice(0, MAX_PREVIOUS), // a stack written before the bound (or by hand) shrinks here too
        approvedBy: opts.actor,
        at: now(),
        everOn: current.everOn,
      };
      if (!(await store.compareAndSet(key, raw, JSON.stringify(next)))) throw labelConflict(name, env);

      await appendAudit(store, clock, { actor: opts.actor, action: "rollback", name, env, from: current.version, to });
      await notifyChange(store);
      return { from: current.version, to };
    },

    history: (name) => readHistory(store, name),

    async recordEval(input) {
      const parsed = newEvalRecordSchema.safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = issue?.path.join(".") ?? "record";
        throw new RegistryError("invalid", `invalid eval record: ${field}: ${issue?.message ?? "invalid"}`, {
          field,
        });
      }
      const fields = parsed.data;
      assertName(fields.prompt);
      const stored = await registry.get(fields.prompt, fields.version);
      if (stored === null) {
        throw new RegistryError("not_found", `prompt ${fields.prompt} has no registered version ${fields.version}`, {
          field: "version",
        });
      }
      if (stored.hash !== fields.content_hash) {
        throw new RegistryError(
          "conflict",
          `the eval ran ${fields.prompt}@${fields.version} with content hash ${fields.content_hash}, but the ` +
            `registered version has hash ${stored.hash}: push the version, then evaluate what is registered`,
          { field: "content_hash" },
        );
      }
      const record: EvalRecord = { id: randomUUID(), ...fields };
      const text = JSON.stringify(record);
      const bytes = Buffer.byteLength(text);
      if (bytes > MAX_EVAL_RECORD_BYTES) {
        throw new RegistryError(
          "invalid",
          `the eval record is ${bytes} bytes, more than the ${MAX_EVAL_RECORD_BYTES} one may be`,
          { field: "record" },
        );
      }
      await store.append(evalsKey(record.prompt), text);
      const suite: SuiteRecord = { hash: record.suite_hash, at: now(), by: record.by };
      const current = await registry.suite(record.prompt);
      if (current?.hash !== suite.hash) await store.set(suiteKey(record.prompt), JSON.stringify(suite));
      await appendAudit(store, clock, {
        actor: record.by,
        action: "eval",
        name: record.prompt,
        version: record.version,
        passed: record.passed,
        evalId: record.id,
      });
      return record;
    },

    async evals(name) {
      const raw = await store.range(evalsKey(name), 0, -1);
      return raw.map(parseEvalRecord).filter((r) => r !== null);
    },

    async suite(name) {
      const raw = await store.get(suiteKey(name));
      return raw === null ? null : parseSuiteRecord(raw);
    },
  };

  interface Gate {
    readonly verdict: GateVerdict;
    /** What `promote` throws unless forced; null when the rule lets the promotion through. */
    readonly refusal: RegistryError | null;
  }

  /**
   * One read for everything a promotion of `version` to `env` depends on, and each rule's verdict: the staging
   * rule (prod only: the version was on staging once) and the eval rule (staging and prod, prompts with a suite).
   * `currentRaw` is what the label's compare-and-set compares with.
   */
  async function decide(
    name: string,
    version: string,
    env: Environment,
    suite: PromoteOptions["suite"],
  ): Promise<{ currentRaw: string | null; current: LabelRecord | null; gates: Gate[] }> {
    const [versionRaw, currentRaw = null, stagingRaw] = await store.mget([
      versionKey(name, version),
      labelKey(env, name),
      labelKey("staging", name),
    ]);
    if (versionRaw == null) {
      throw new RegistryError("not_found", `prompt ${name} has no registered version ${version}`, {
        field: "version",
      });
    }
    // An unreadable stored label (hand-edited) is replaced: the compare-and-set still guards it.
    const current = currentRaw === null ? null : parseLabelRecord(currentRaw);
    const gates: Gate[] = [];
    if (env === "prod") {
      const staging = stagingRaw == null ? null : parseLabelRecord(stagingRaw);
      const onStaging = staging?.everOn.includes(version) === true;
      const message = onStaging
        ? `${name}@${version} has been on staging`
        : `${name}@${version} has never been on staging: promote it to staging first, or force the promotion`;
      gates.push({
        verdict: { gate: "staging", status: onStaging ? "passed" : "refused", message },
        refusal: onStaging ? null : new RegistryError("conflict", message, { field: "version" }),
      });
    } else {
      gates.push({
        verdict: {
          gate: "staging",
          status: "not_required",
          message: "only promotions to prod must have been on staging",
        },
        refusal: null,
      });
    }
    if (env === "staging" || env === "prod") {
      const stored = parsePromptVersion(versionRaw);
      const refusal = stored === null ? null : await evalRefusal(name, version, stored.hash, suite);
      if (refusal === null) {
        gates.push({
          verdict: { gate: "eval", status: "not_required", message: `${name} has no evaluation suite` },
          refusal: null,
        });
      } else if (typeof refusal === "string") {
        gates.push({
          verdict: {
            gate: "eval",
            status: "passed",
            message: `${name}@${version} passed its latest evaluation on the current suite (eval ${refusal})`,
            evalId: refusal,
          },
          refusal: null,
        });
      } else {
        gates.push({
          verdict: {
            gate: "eval",
            status: "refused",
            message: refusal.error.message,
            ...(refusal.evalId === undefined ? {} : { evalId: refusal.evalId }),
          },
          refusal: refusal.error,
        });
      }
    } else {
      gates.push({
        verdict: { gate: "eval", status: "not_required", message: "promotions to dev are not gated on evaluations" },
        refusal: null,
      });
    }
    return { currentRaw, current, gates };
  }

  /**
   * The eval rule of a promotion to staging or prod: null when the prompt has no suite; the id of the passing
   * record it relies on; or the refusal to throw (unless forced), with the failing record's id when one decided.
   */
  async function evalRefusal(
    name: string,
    version: string,
    contentHash: string,
    told: PromoteOptions["suite"],
  ): Promise<string | { readonly error: RegistryError; readonly evalId?: string } | null> {
    const held = await registry.suite(name);
    if (told === undefined && held === null) return null;
    const suiteHash = told?.hash ?? held?.hash ?? null;
    const run = `run \`promptgate eval ${name}@${version}\`, or force the promotion`;
    if (suiteHash === null) {
      return {
        error: new RegistryError(
          "conflict",
          `${name} has an evaluation suite but no eval run was recorded for it: ${run}`,
          {
            field: "version",
          },
        ),
      };
    }
    const record = decidingRecord(await registry.evals(name), contentHash, suiteHash);
    if (record === null) {
      return {
        error: new RegistryError(
          "conflict",
          `${name}@${version} has no eval record for its content (hash ${contentHash}) on the current suite ` +
            `(hash ${suiteHash}): ${run}`,
          { field: "version" },
        ),
      };
    }
    if (!record.passed) {
      return {
        error: new RegistryError(
          "conflict",
          `${name}@${version} failed its latest evaluation on the current suite (eval ${record.id}, ` +
            `${record.finished_at}): fix it and ${run}`,
          { field: "version" },
        ),
        evalId: record.id,
      };
    }
    return record.id;
  }

  return registry;
}

function labelConflict(name: string, env: Environment): RegistryError {
  return new RegistryError("conflict", `label ${env} of ${name} changed concurrently, retry`);
}

function assertEnvironment(env: string): asserts env is Environment {
  if (!isEnvironment(env)) {
    throw new RegistryError("invalid", `unknown environment "${env}": use one of ${ENVIRONMENTS.join(", ")}`, {
      field: "env",
    });
  }
}

function assertName(name: string): void {
  if (!NAME.test(name)) {
    throw new RegistryError(
      "invalid",
      `invalid prompt name "${name}": no whitespace, ':', '@', '/', '\\' or glob characters`,
      { field: "name" },
    );
  }
}

function assertSemver(version: string): void {
  if (semver.valid(version) !== version) {
    throw new RegistryError("invalid", `invalid version "${version}": use semver such as 1.2.0`, {
      field: "version",
    });
  }
}

function assertPresent(value: string, param: string): void {
  if (value.trim() === "") throw new RegistryError("invalid", `${param} must not be empty`, { field: param });
}
