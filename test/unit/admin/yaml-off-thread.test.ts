// YAML admin bodies are parsed in a worker thread: plain data back, a 400 naming the body for text that
// is not YAML, and a 400 at the deadline for a text the parser would take too long over.
import { describe, expect, it } from "vitest";
import { parseYamlOffThread } from "../../../gateway/admin/yaml-off-thread.ts";
import { GatewayError } from "../../../gateway/errors/gateway-error.ts";

const refusal = async (work: Promise<unknown>): Promise<GatewayError> => {
  const err: unknown = await work.then(
    () => null,
    (e: unknown) => e,
  );
  if (err instanceof GatewayError) return err;
  throw new Error(`expected a GatewayError, got ${String(err)}`);
};

describe("parseYamlOffThread", () => {
  it("hands back the plain data of a YAML text", async () => {
    expect(await parseYamlOffThread("name: x\nversion: 1.0.0\nlist: [1, two]\n", "body")).toEqual({
      name: "x",
      version: "1.0.0",
      list: [1, "two"],
    });
  });

  it("is a 400 naming the body when the text is not YAML", async () => {
    const err = await refusal(parseYamlOffThread("a: [1\n", "body"));
    expect(err).toMatchObject({ status: 400, code: "invalid_request" });
    expect(err.message).toMatch(/^body: invalid YAML: /);
  });

  it("gives up at the deadline and stops the worker", async () => {
    // A mapping of 9,990 keys: the parser checks each key against all the others.
    const text = Array.from({ length: 9_990 }, (_, i) => `k${i}: 1`).join("\n");
    const err = await refusal(parseYamlOffThread(text, "body", 20));
    expect(err.message).toBe(
      "body: the YAML took longer than 20 ms to read; a prompt file is a few kB (send a smaller one, or JSON)",
    );
  });
});
