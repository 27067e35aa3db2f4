// The bucket is a pure function of (name, user id): in range, pinned across releases, equal in another process.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { BUCKETS, createBucketer, createUserHasher } from "../../../gateway/split/bucket.ts";
import type { Bucketer } from "../../../gateway/split/bucket.ts";

const run = promisify(execFile);

let bucket: Bucketer;
beforeAll(async () => {
  bucket = await createBucketer();
});

/** Computes buckets in a fresh Node process (a restart, or another replica). */
async function bucketsInChildProcess(name: string, ids: readonly string[]): Promise<number[]> {
  const script = `
    const { createBucketer } = await import(${JSON.stringify(new URL("../../../gateway/split/bucket.ts", import.meta.url).href)});
    const bucket = await createBucketer();
    let input = "";
    for await (const chunk of process.stdin) input += chunk;
    const { name, ids } = JSON.parse(input);
    process.stdout.write(JSON.stringify(ids.map((id) => bucket(name, id))));`;
  const child = run(process.execPath, ["--input-type=module", "-e", script], { maxBuffer: 16 * 1024 * 1024 });
  child.child.stdin?.end(JSON.stringify({ name, ids }));
  const { stdout } = await child;
  return JSON.parse(stdout) as number[];
}

describe("createBucketer", () => {
  it("maps any (name, user id) to an integer bucket in 0..9999, the same every time", () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ unit: "binary" }), (name, userId) => {
        const b = bucket(name, userId);
        expect(Number.isInteger(b) && b >= 0 && b < BUCKETS).toBe(true);
        expect(bucket(name, userId)).toBe(b);
      }),
      { numRuns: 2_000 },
    );
  });

  it("keeps the buckets of past releases (changing seed, separator or hash would move every user)", () => {
    expect(bucket("summarization", "alice")).toBe(671);
    expect(bucket("summarization", "bob")).toBe(1818);
    expect(bucket("summarization", "user-42")).toBe(7553);
    expect(bucket("summarization", "ümlaut-🙂")).toBe(7020);
    expect(bucket("translate", "alice")).toBe(5501);
    expect(bucket("", "")).toBe(7966);
  });

  it("hashes the prompt name and the user id apart, so one user lands independently in each prompt", () => {
    expect(bucket("ab", "c")).toBe(4948);
    expect(bucket("a", "bc")).toBe(2363);
  });

  it("shares one wasm instance between bucketers, which agree", async () => {
    const again = await createBucketer();
    fc.assert(fc.property(fc.string(), fc.string(), (name, userId) => again(name, userId) === bucket(name, userId)));
  });

  it("gives the same buckets in a second process", async () => {
    const ids = [
      ...fc.sample(fc.uuid(), { numRuns: 500, seed: 7 }),
      ...fc.sample(fc.string({ unit: "binary" }), { numRuns: 500, seed: 8 }),
    ];
    const theirs = await bucketsInChildProcess("summarization", ids);
    expect(theirs).toEqual(ids.map((id) => bucket("summarization", id)));
  });
});

describe("user hash", () => {
  it("is the 64-bit xxHash of the user id alone, 16 hex digits, pinned (distinct users span releases)", async () => {
    const hash = await createUserHasher();
    expect(hash("")).toBe("ef46db3751d8e999"); // XXH64 of the empty input, seed 0 (the reference value)
    expect(hash("alice")).toBe("73a3ea485f2e6049");
    expect(hash("ümlaut-🙂")).toBe("3f1a6506fee73413");
    fc.assert(fc.property(fc.string(), (id) => /^[0-9a-f]{16}$/.test(hash(id))));
  });
});
