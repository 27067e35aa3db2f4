// The web console at /console: a page shell, its browser modules and stylesheet (assets/, served as they are in
// git: there is no build step) and the chart library from node_modules. The console holds no rules and no data:
// every figure and every action is a call to /admin/* with the admin token, which the page keeps in
// sessionStorage. Mounted only when ADMIN_TOKEN is set (app.ts), so without it /console is an unknown route (404).
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Hono, type Context } from "hono";
import type { AppEnv } from "../http/context.ts";
import { GatewayError } from "../errors/gateway-error.ts";

/**
 * Only this origin's own scripts and styles, no inline script or style markup, no framing, no plugins, requests
 * only to this origin, and Trusted Types required: assigning a string to innerHTML (or any other HTML or script
 * sink) throws, so text a prompt author wrote can only ever reach the page as text.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
};

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const ASSETS_DIR = fileURLToPath(new URL("./assets/", import.meta.url));

/** The chart library's browser build and stylesheet, resolved in node_modules as the image installs it. */
function vendorFiles(): Record<string, string> {
  const require = createRequire(import.meta.url);
  return {
    "uplot.js": require.resolve("uplot/dist/uPlot.esm.js"),
    "uplot.css": require.resolve("uplot/dist/uPlot.min.css"),
  };
}

async function load(path: string): Promise<Asset> {
  const body = await readFile(path);
  const type = TYPES[extname(path)];
  if (type === undefined) throw new Error(`console asset of unknown type: ${path}`);
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

/** Every file the console serves, by the path it is served under; read once, on the first request. */
async function loadAssets(): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>();
  for (const file of await readdir(ASSETS_DIR)) {
    if (TYPES[extname(file)] === undefined) continue;
    assets.set(file === "index.html" ? "/console" : `/console/assets/${file}`, await load(join(ASSETS_DIR, file)));
  }
  for (const [name, path] of Object.entries(vendorFiles())) assets.set(`/console/vendor/${name}`, await load(path));
  return assets;
}

/** The console's routes, under their full paths (/console, /console/, /console/assets/..., /console/vendor/...). */
export function createConsoleRoutes(): Hono<AppEnv> {
  let assets: Promise<Map<string, Asset>> | null = null;
  const routes = new Hono<AppEnv>();

  const serve = async (c: Context<AppEnv>, path: string): Promise<Response> => {
    assets ??= loadAssets();
    const asset = (await assets).get(path);
    if (asset === undefined) throw new GatewayError("not_found", `Unknown route ${c.req.method} ${c.req.path}`);
    const headers: Record<string, string> = {
      ...CONSOLE_HEADERS,
      "content-type": asset.type,
      etag: asset.etag,
      // The shell is tiny and names no versioned files: always revalidate, so a new release is picked up at once.
      "cache-control": "no-cache",
    };
    if (c.req.header("if-none-match") === asset.etag) return c.body(null, 304, headers);
    return c.body(new Uint8Array(asset.body), 200, headers);
  };

  routes.get("/console", (c) => serve(c, "/console"));
  routes.get("/console/", (c) => serve(c, "/console"));
  routes.get("/console/assets/:file", (c) => serve(c, `/console/assets/${c.req.param("file")}`));
  routes.get("/console/vendor/:file", (c) => serve(c, `/console/vendor/${c.req.param("file")}`));
  return routes;
}
