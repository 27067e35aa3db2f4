// The console over plain HTTP: off (404) without ADMIN_TOKEN; with it, the shell, every browser module, the
// stylesheet and the chart library served with their security headers and types; no inline script or style in the
// shell; nothing outside the console's files reachable; the token in no URL the modules build.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_CSP } from "../gateway/console/console-routes.ts";
import { startTestGateway, type TestGateway } from "./support/gateway.ts";

const ASSETS = join(import.meta.dirname, "..", "gateway", "console", "assets");
const assetFiles = readdirSync(ASSETS);

describe("console without ADMIN_TOKEN", () => {
  it("is not there: /console and its files answer 404", async () => {
    const gw = await startTestGateway();
    try {
      for (const path of ["/console", "/console/", "/console/assets/main.js", "/console/vendor/uplot.js"]) {
        const res = await fetch(`${gw.url}${path}`);
        expect(res.status, path).toBe(404);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
      }
    } finally {
      await gw.close();
    }
  });
});

describe("console with ADMIN_TOKEN", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ env: { ADMIN_TOKEN: "t0ken" } });
  });
  afterAll(async () => {
    await gw.close();
  });

  const expectSecureHeaders = (res: Response): void => {
    expect(res.headers.get("content-security-policy")).toBe(CONSOLE_CSP);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
  };

  it("serves the shell without the token (it holds no data) and with the security headers", async () => {
    expect((await fetch(`${gw.url}/console/`)).status).toBe(200);
    const res = await fetch(`${gw.url}/console`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expectSecureHeaders(res);
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/console/assets/main.js"></script>');
    // Every script is a file of the console's own: the CSP allows no inline one.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="\/console\//);
      expect(body).toBe("");
    }
    expect(html).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
  });

  it("keeps pages out of frames and scripts to its own origin", () => {
    const directives = new Map(CONSOLE_CSP.split("; ").map((d) => [d.split(" ")[0], d.split(" ").slice(1).join(" ")]));
    expect(directives.get("frame-ancestors")).toBe("'none'");
    expect(directives.get("script-src")).toBe("'self'");
    expect(directives.get("default-src")).toBe("'none'");
    expect(directives.get("require-trusted-types-for")).toBe("'script'");
    expect(CONSOLE_CSP).not.toContain("unsafe-inline");
    expect(CONSOLE_CSP).not.toContain("unsafe-eval");
  });

  it("serves every browser module and the stylesheet as they are in git, typed and revalidated", async () => {
    expect(assetFiles).toContain("main.js");
    for (const file of assetFiles.filter((f) => f !== "index.html")) {
      const res = await fetch(`${gw.url}/console/assets/${file}`);
      expect(res.status, file).toBe(200);
      expectSecureHeaders(res);
      const type = file.endsWith(".js") ? "text/javascript" : file.endsWith(".css") ? "text/css" : "image/svg+xml";
      expect(res.headers.get("content-type"), file).toContain(type);
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(ASSETS, file))), file).toBe(true);
      const again = await fetch(`${gw.url}/console/assets/${file}`, {
        headers: { "if-none-match": res.headers.get("etag")! },
      });
      expect(again.status, file).toBe(304);
    }
  });

  it("serves the chart library from node_modules", async () => {
    const js = await fetch(`${gw.url}/console/vendor/uplot.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toContain("text/javascript");
    expect(await js.text()).toContain("export { uPlot as default }");
    const css = await fetch(`${gw.url}/console/vendor/uplot.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toContain("text/css");
  });

  it("serves nothing but its own files", async () => {
    for (const path of [
      "/console/assets/nope.js",
      "/console/assets/..%2f..%2f..%2fpackage.json",
      "/console/assets/%2e%2e/console-routes.ts",
      "/console/vendor/uPlot.cjs.js",
      "/console/console-routes.ts",
    ]) {
      const res = await fetch(`${gw.url}${path}`);
      expect(res.status, path).toBe(404);
    }
  });

  it("puts the token only in the Authorization header, never in a URL", () => {
    const api = readFileSync(join(ASSETS, "api.js"), "utf8");
    expect(api).toContain("headers.authorization = `Bearer ${secret}`");
    expect(api).toContain("sessionStorage");
    for (const file of assetFiles.filter((f) => f.endsWith(".js"))) {
      const text = readFileSync(join(ASSETS, file), "utf8");
      expect(text, file).not.toMatch(/[?&]token=|localStorage|document\.cookie|innerHTML|outerHTML|insertAdjacentHTML/);
    }
  });
});
