import { describe, expect, it } from "vitest";
import { REDACTED, Scrubber } from "../../../gateway/support/scrubber.ts";

const KEY = "sk-proj-planted-0123456789";
const PASSWORD = 'pa"ss/wo rd\\42';

describe("Scrubber", () => {
  const scrubber = new Scrubber([{ value: KEY, scope: "openai" }, { value: PASSWORD }, { value: "short" }]);

  it("replaces every occurrence of every secret, as it is, JSON-escaped and percent-encoded", () => {
    expect(scrubber.text(`Bearer ${KEY} and again ${KEY}`, "log")).toBe(`Bearer ${REDACTED} and again ${REDACTED}`);
    const json = JSON.stringify({ echoed: { authorization: `Bearer ${KEY}`, password: PASSWORD } });
    expect(json).not.toContain(PASSWORD); // escaped in JSON
    expect(scrubber.text(json, "log")).toBe(
      JSON.stringify({ echoed: { authorization: `Bearer ${REDACTED}`, password: REDACTED } }),
    );
    const url = `redis://:${encodeURIComponent(PASSWORD)}@host:6379`;
    expect(scrubber.text(url, "log")).toBe(`redis://:${REDACTED}@host:6379`);
    expect(scrubber.bytes(Buffer.from(`{"k":"${KEY}"}`), "response").toString()).toBe(`{"k":"${REDACTED}"}`);
  });

  it("hands back its input untouched (the same object) when there is nothing to replace", () => {
    const text = "nothing secret here, not even short words";
    const bytes = Buffer.from(text);
    expect(scrubber.text(text, "log")).toBe(text);
    expect(scrubber.bytes(bytes, "response")).toBe(bytes);
    expect(Scrubber.none.active).toBe(false);
    expect(Scrubber.none.text(KEY, "log")).toBe(KEY);
  });

  it("leaves secrets shorter than 8 characters alone (they would match by chance)", () => {
    expect(scrubber.text("a short word", "log")).toBe("a short word");
    expect(new Scrubber([{ value: "short" }]).active).toBe(false);
  });

  it("scopes a provider's key: scope() scrubs that key alone, and counts under the same channels", () => {
    const counts = new Scrubber([{ value: KEY, scope: "openai" }, { value: PASSWORD }]);
    const openai = counts.scope("openai");
    expect(openai.text(`${KEY} ${PASSWORD}`, "stream")).toBe(`${REDACTED} ${PASSWORD}`);
    expect(counts.scope("other").active).toBe(false);
    counts.text(`${KEY}${KEY}`, "log");
    expect(Object.fromEntries(counts.redactions())).toEqual({ stream: 1, log: 2 });
  });

  it("catches a secret split across stream chunks at every split point, holding back only a secret's start", () => {
    const text = `data: {"echo":"Bearer ${KEY}"}\n\n`;
    for (let cut = 1; cut < text.length; cut++) {
      const s = scrubber.stream("stream");
      const out = Buffer.concat([
        s.push(Buffer.from(text.slice(0, cut))),
        s.push(Buffer.from(text.slice(cut))),
        s.end(),
      ]).toString();
      expect(out, `cut at ${cut}`).toBe(`data: {"echo":"Bearer ${REDACTED}"}\n\n`);
    }
    // An event that ends normally is passed on whole at once.
    const s = scrubber.stream("stream");
    const event = Buffer.from('data: {"x":"sk-"}\n\n');
    expect(s.push(event)).toBe(event);
    // A chunk ending in what could start the key is held back until the next chunk settles it.
    expect(s.push(Buffer.from("data: sk-pro")).toString()).toBe("data: ");
    expect(s.push(Buffer.from("se\n\n")).toString()).toBe("sk-prose\n\n");
    expect(s.push(Buffer.from("tail sk-p")).toString()).toBe("tail ");
    expect(s.end().toString()).toBe("sk-p");
  });
});
