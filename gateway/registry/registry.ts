// The prompt registry: immutable content-hashed versions, environment labels moved by promote and
// rollback under compare-and-set, and an append-only audit of every change. Key layout: store/keys.ts.
import semver from "semver";
import type { Clock } from "../support/clock.ts";
import type { PromptVersion } from "../prompts/types.ts";
import type { Store } from "../store/store.ts";
import { appendAudit, notifyChange, readHistory } from "./audit.ts";
import { ENVIRONMENTS, isEnvironment, type Environment } from "./environments.ts";
import { labelKey, parseVersionKey, PROMPTS_PREFIX, versionKey, versionsPrefix } from "../store/keys.ts";
import { parseLabelRecord, parsePromptVersion, toLabel } from "./records.ts";
import { MAX_RECORD_BYTES } from "./refresh-reads.ts";
import { RegistryError } from "./registry-error.ts";
import type { AuditEntry, Label, LabelRecord } from "./records.ts";

export interface PromoteOptions {
  readonly approvedBy: string;
  /** Skips the rule that a version must have been on staging before prod; recorded in the audit. */
  readonly force?: boolean;
}

export interface PromoteResult {
  /** False when the label already pointed at this version: nothing was written. */
  readonly changed: boolean;
  readonly from: string | null;
  readonly to: string;
  /** True when `force` actually bypassed the staging rule. */
  readonly forced: boolean;
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
  rollback(name: string, env: string, opts: { readonly actor: string }): Promise<RollbackResult>;
  /** The audit history of `name`, oldest first. */
  history(name: string): Promise<AuditEntry[]>;
}

/** How many earlier versions a label remembers for rollback. */
export const MAX_PREVIOUS = 50;

// Names become key segments and `X-Prompt-Ref` parts (`name@label`): no ':', '@', '/', whitespace or globs.
const NAME = /^[^\s:@/\\*?[\]]+$/u;

export function createRegistry(store: Store, clock: Clock): Registry {
  const now = (): string => new Date(clock.now()).toISOString();

  return {
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

    async promote(name, version, env, opts) {
      assertEnvironment(env);
      assertPresent(opts.approvedBy, "approved_by");
      const key = labelKey(env, name);
      // One read for everything the decision depends on; the compare-and-set below guards the label.
      const [versionRaw, currentRaw = null, stagingRaw] = await store.mget([
        versionKey(name, version),
        key,
        labelKey("staging", name),
      ]);
      if (versionRaw == null) {
        throw new RegistryError("not_found", `prompt ${name} has no registered version ${version}`, {
          field: "version",
        });
      }
      // An unreadable stored label (hand-edited) is replaced: the compare-and-set still guards it.
      const current = currentRaw === null ? null : parseLabelRecord(currentRaw);
      if (current?.version === version) return { changed: false, from: version, to: version, forced: false };

      let forced = false;
      if (env === "prod") {
        const staging = stagingRaw == null ? null : parseLabelRecord(stagingRaw);
        if (!staging?.everOn.includes(version)) {
          if (opts.force !== true) {
            throw new RegistryError(
              "conflict",
              `${name}@${version} has never been on staging: promote it to staging first, or force the promotion`,
              { field: "version" },
            );
          }
          forced = true;
        }
      }

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
        ...(forced ? { forced } : {}),
      });
      await notifyChange(store);
      return { changed: true, from, to: version, forced };
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
  };
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
