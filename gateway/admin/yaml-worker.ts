// Runs in a worker thread (admin/yaml-off-thread.ts starts it): parses one YAML text and posts back the
// plain data, or why it is not YAML. The parser's cost grows faster than the text on some shapes (100,000
// keys of one mapping take it minutes), so an admin body is never parsed on the event loop.
import { parentPort, workerData } from "node:worker_threads";
import { parse } from "yaml";

export type YamlReply = { readonly ok: true; readonly doc: unknown } | { readonly ok: false; readonly error: string };

function reply(text: unknown): YamlReply {
  if (typeof text !== "string") return { ok: false, error: "expected the YAML text" };
  try {
    return { ok: true, doc: parse(text) as unknown };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

parentPort?.postMessage(reply(workerData));
