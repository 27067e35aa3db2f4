import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SseParser, type SseEvent } from "../../../gateway/openai/sse.ts";

const parseAll = (chunks: readonly string[]): SseEvent[] => {
  const p = new SseParser();
  const out = chunks.flatMap((c) => p.push(c));
  return [...out, ...p.flush()];
};

describe("SseParser", () => {
  it("parses data, event names, multi-line data and comments", () => {
    const evs = parseAll(['data: {"a":1}\n\nevent: response.completed\ndata: x\ndata: y\n\n: keep-alive\n\n']);
    expect(evs.map((e) => [e.event, e.data, e.hasData])).toEqual([
      [null, '{"a":1}', true],
      ["response.completed", "x\ny", true],
      [null, "", false],
    ]);
  });

  it("waits for the LF of a CRLF split across chunks", () => {
    const p = new SseParser();
    expect(p.push("data: a\r\n\r")).toEqual([]);
    const evs = p.push("\ndata: b\r\n\r\n");
    expect(evs.map((e) => e.data)).toEqual(["a", "b"]);
    expect(evs.map((e) => e.raw).join("")).toBe("data: a\r\n\r\ndata: b\r\n\r\n");
  });

  it("keeps only the value's first leading space and treats a bare field as empty", () => {
    expect(parseAll(["data:  two\ndata\n\n"])[0]!.data).toBe(" two\n");
  });

  it("emits a trailing block without its blank line on flush", () => {
    expect(parseAll(["data: [DONE]"]).map((e) => e.data)).toEqual(["[DONE]"]);
  });

  // Property: however a stream is cut into chunks and whichever line ends it uses, the parser
  // yields the same events, and their raw text reassembles the stream exactly.
  it("is independent of chunk boundaries and line endings", () => {
    const safeText = fc.string({ unit: fc.constantFrom("a", "b", " ", "{", "}", ":", '"', "é", "😀") });
    const event = fc.record({
      name: fc.option(fc.constantFrom("message", "response.completed", "ping"), { nil: null }),
      lines: fc.array(safeText, { minLength: 1, maxLength: 3 }),
    });
    fc.assert(
      fc.property(
        fc.array(event, { minLength: 1, maxLength: 8 }),
        fc.constantFrom("\n", "\r\n", "\r"),
        fc.array(fc.nat(), { maxLength: 12 }),
        (events, eol, cuts) => {
          const text = events
            .map(
              (e) => (e.name ? `event: ${e.name}${eol}` : "") + e.lines.map((l) => `data: ${l}${eol}`).join("") + eol,
            )
            .join("");
          const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
          const chunks: string[] = [];
          let last = 0;
          for (const p of points) {
            chunks.push(text.slice(last, p));
            last = p;
          }
          chunks.push(text.slice(last));
          const parsed = parseAll(chunks);
          expect(parsed.map((e) => [e.event, e.data])).toEqual(events.map((e) => [e.name, e.lines.join("\n")]));
          expect(parsed.map((e) => e.raw).join("")).toBe(text);
        },
      ),
      { numRuns: 500 },
    );
  });
});
