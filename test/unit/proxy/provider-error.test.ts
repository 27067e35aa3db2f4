import { describe, expect, it } from "vitest";
import { REDACTED, Scrubber } from "../../../gateway/support/scrubber.ts";
import { providerErrorBody } from "../../../gateway/proxy/provider-error.ts";

const TOKEN = "adm-token-0123456789abcdef";
const scrubber = new Scrubber([{ value: TOKEN }]);

describe("providerErrorBody", () => {
  it("relays an OpenAI-shaped error as it came, every configured secret scrubbed", () => {
    const clean = Buffer.from(JSON.stringify({ error: { message: "Rate limit reached", type: "requests" } }));
    expect(providerErrorBody(429, clean, "openai", scrubber)).toBe(clean);
    const echo = Buffer.from(JSON.stringify({ error: { message: `bad header x-admin: ${TOKEN}` } }));
    expect(JSON.parse(providerErrorBody(400, echo, "openai", scrubber).toString())).toEqual({
      error: { message: `bad header x-admin: ${REDACTED}` },
    });
  });

  it("wraps any other body in OpenAI's shape, scrubbing before it cuts the excerpt", () => {
    // The secret starts before the 200th character and ends after it.
    const html = Buffer.from(`<html>${"x".repeat(185)} ${TOKEN} and more</html>`);
    const body = JSON.parse(providerErrorBody(502, html, "local", scrubber).toString()) as {
      error: { message: string; code: string };
    };
    expect(body.error.code).toBe("upstream_error");
    const excerpt = `<html>${"x".repeat(185)} ${REDACTED}`.slice(0, 200);
    expect(excerpt.endsWith(" [redacte")).toBe(true);
    expect(body.error.message).toBe(`provider "local" answered 502: ${excerpt}`);
    expect(body.error.message).not.toContain("adm-");
  });
});
