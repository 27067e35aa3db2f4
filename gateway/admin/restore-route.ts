// `POST /admin/registry/restore`: `promptgate restore --from-snapshot` with the disk snapshot of the
// replica that answers, for operators who reach the admin API but not a shell beside the gateway.
import type { Handler } from "hono";
import { z } from "zod";
import { snapshotPath, type Settings } from "../config/settings.ts";
import type { AppEnv } from "../http/context.ts";
import { RegistryError } from "../registry/registry-error.ts";
import { readSnapshotSource } from "../registry/restore-source.ts";
import { restoreRegistry } from "../registry/restore.ts";
import type { Store } from "../store/store.ts";
import type { Clock } from "../support/clock.ts";
import type { Logger } from "../support/logger.ts";
import type { Scrubber } from "../support/scrubber.ts";
import { actorOf, jsonBody } from "./admin-body.ts";

const restoreBody = z.strictObject({ force: z.boolean().optional() });

export interface RestoreRouteDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The actor is recorded in the audit history: scrubbed like every admin write's. */
  readonly scrubber: Scrubber;
  readonly settings: Pick<Settings, "statePath">;
}

/** 200 with the report; 404 when this replica has no disk snapshot; 409 when a version has other content. */
export function restoreRoute(deps: RestoreRouteDeps): Handler<AppEnv> {
  return async (c) => {
    const body = await jsonBody(c, restoreBody);
    const actor = deps.scrubber.text(actorOf(c), "admin");
    const path = snapshotPath(deps.settings);
    const source = await readSnapshotSource(path);
    const report = await restoreRegistry(deps.store, deps.clock, source, { actor, force: body.force === true });
    const conflicts = report.prompts.flatMap((p) => p.conflicts.map((v) => `${p.name}@${v}`));
    deps.logger.info("admin: registry restored from this replica's snapshot", {
      path,
      actor,
      restored: report.restored,
      revision_before: report.revisionBefore,
      revision_after: report.revisionAfter,
      conflicts: conflicts.length,
    });
    if (conflicts.length > 0)
      throw new RegistryError(
        "conflict",
        `restored, except ${conflicts.length} version(s) the store holds with other content: ` +
          conflicts.slice(0, 10).join(", "),
      );
    return c.json(report);
  };
}
