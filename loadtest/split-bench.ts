// Cost of the split on the request path (bucket + pick) and of building a split: `node loadtest/split-bench.ts`.
import { randomUUID } from "node:crypto";
import { createBucketer } from "../gateway/split/bucket.ts";
import { buildSplit, pick } from "../gateway/split/layout.ts";

const USERS = 200_000;
const ROUNDS = 15;

const bucket = await createBucketer();
const split = buildSplit(
  "1.0.0",
  new Map([
    ["1.0.0", 90],
    ["1.1.0", 5],
    ["1.2.0", 5],
  ]),
);
const ids = Array.from({ length: USERS }, () => randomUUID());
const buckets = Int32Array.from(ids, (id) => bucket("summarization", id));

/** Median over rounds of nanoseconds per call; the sink keeps the work from being optimised away. */
function median(label: string, perRound: () => number): void {
  let sink = 0;
  const times: number[] = [];
  for (let round = 0; round < ROUNDS + 3; round++) {
    const start = process.hrtime.bigint();
    sink += perRound();
    const ns = Number(process.hrtime.bigint() - start) / USERS;
    if (round >= 3) times.push(ns); // the first rounds warm up the JIT
  }
  times.sort((a, b) => a - b);
  const mid = times[Math.floor(times.length / 2)] ?? 0;
  console.log(`${label.padEnd(28)} ${(mid / 1000).toFixed(3)} µs/call  (${mid.toFixed(0)} ns; sink ${sink})`);
}

median("bucket (xxh32 of name+id)", () => {
  let sum = 0;
  for (const id of ids) sum += bucket("summarization", id);
  return sum;
});
median("pick", () => {
  let canaries = 0;
  for (const b of buckets) if (pick(split, b).variant === "canary") canaries++;
  return canaries;
});
median("bucket + pick", () => {
  let canaries = 0;
  for (const id of ids) if (pick(split, bucket("summarization", id)).variant === "canary") canaries++;
  return canaries;
});

const builds = 200;
const start = performance.now();
for (let i = 0; i < builds; i++)
  buildSplit(
    "1.0.0",
    new Map([
      ["1.0.0", 50 + (i % 7)],
      ["1.1.0", 30],
      ["1.2.0", 20],
    ]),
  );
console.log(`${"buildSplit (3 versions)".padEnd(28)} ${((performance.now() - start) / builds).toFixed(3)} ms/build`);
