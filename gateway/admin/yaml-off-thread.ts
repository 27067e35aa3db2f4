// Admin bodies sent as YAML are parsed in a worker thread with a deadline and a memory cap: the YAML
// parser is superlinear on some shapes (a mapping of 20,000 keys costs it seconds, of 100,000 minutes),
// and the event loop must keep serving the proxy while an admin uploads whatever they upload.
import { Worker } from "node:worker_threads";
import { GatewayError } from "../errors/gateway-error.ts";
import type { YamlReply } from "./yaml-worker.ts";

/** How long a YAML admin body may take to parse; real prompt files take milliseconds. */
export const YAML_DEADLINE_MS = 2_000;
/** The worker's heap: a 1 MB body needs a few tens of MB at most. */
const WORKER_HEAP_MB = 128;

const WORKER = new URL("./yaml-worker.ts", import.meta.url);

/** The plain data of `text`; a 400 when it is not YAML or takes too long or too much memory to read. */
export function parseYamlOffThread(text: string, what: string, deadlineMs = YAML_DEADLINE_MS): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, {
      workerData: text,
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 32 },
    });
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
      void worker.terminate();
    };
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(
            new GatewayError(
              "invalid_request",
              `${what}: the YAML took longer than ${deadlineMs} ms to read; a prompt file is a few kB (send a smaller one, or JSON)`,
            ),
          ),
        ),
      deadlineMs,
    );
    worker.once("message", (reply: YamlReply) =>
      settle(() =>
        reply.ok
          ? resolve(reply.doc)
          : reject(new GatewayError("invalid_request", `${what}: invalid YAML: ${reply.error}`)),
      ),
    );
    worker.once("error", (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      settle(() =>
        reject(
          new GatewayError(
            "invalid_request",
            message.includes("memory")
              ? `${what}: the YAML needs more than ${WORKER_HEAP_MB} MB to read; a prompt file is a few kB`
              : `${what}: the YAML could not be read: ${message}`,
          ),
        ),
      );
    });
    worker.once("exit", (code) =>
      settle(() => reject(new GatewayError("invalid_request", `${what}: the YAML reader stopped (exit code ${code})`))),
    );
  });
}
