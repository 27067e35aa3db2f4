// What `rollback` would do to a label now, without doing it: the version it would move back to, or why it would
// refuse. The console shows it before the click; `registry.rollback` stays the one that decides and writes.
import { ENVIRONMENTS, isEnvironment, type Environment } from "./environments.ts";
import type { Registry } from "./registry.ts";
import { RegistryError } from "./registry-error.ts";

export interface RollbackPreview {
  readonly name: string;
  readonly env: Environment;
  /** Where the label points now; null when it points nowhere. */
  readonly from: string | null;
  /** Where a rollback would move it; null when it would refuse. */
  readonly to: string | null;
  readonly allowed: boolean;
  readonly message: string;
}

export async function rollbackPreview(registry: Registry, name: string, env: string): Promise<RollbackPreview> {
  if (!isEnvironment(env))
    throw new RegistryError("invalid", `unknown environment "${env}": use one of ${ENVIRONMENTS.join(", ")}`, {
      field: "env",
    });
  const [label, versions] = await Promise.all([registry.label(name, env), registry.versions(name)]);
  if (versions.length === 0)
    throw new RegistryError("not_found", `unknown prompt "${name}": push it first`, { field: "name" });
  if (label === null)
    return {
      name,
      env,
      from: null,
      to: null,
      allowed: false,
      message: `${name} has no ${env} label: nothing to roll back`,
    };
  const to = label.previous[0];
  if (to === undefined)
    return {
      name,
      env,
      from: label.version,
      to: null,
      allowed: false,
      message: `${name}@${env} points at ${label.version} and has no earlier version: nothing to roll back to`,
    };
  return {
    name,
    env,
    from: label.version,
    to,
    allowed: true,
    message: `rolling back moves ${env} from ${label.version} to ${to}, where it pointed before`,
  };
}
