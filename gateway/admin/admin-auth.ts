// Guards /admin/*: 404 while ADMIN_TOKEN is unset (the admin API is off), else 401 unless the caller
// presents `Authorization: Bearer $ADMIN_TOKEN`, compared in constant time. What it answers is never
// kept by a cache on the way (registry contents, audit history: `Cache-Control: no-store`).
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/context.ts";
import { GatewayError } from "../errors/gateway-error.ts";
import { bearerToken } from "../proxy/auth.ts";

// Fixed-size digests keep the comparison constant-time whatever length the caller sends.
const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

export function adminAuth(adminToken: string | undefined): MiddlewareHandler<AppEnv> {
  const expected = adminToken === undefined ? null : digest(adminToken);
  return async (c, next) => {
    if (expected === null) {
      throw new GatewayError(
        "not_found",
        `Unknown route ${c.req.method} ${c.req.path}: the admin API is disabled (set ADMIN_TOKEN to enable it)`,
      );
    }
    const token = bearerToken(c.env.incoming.headers.authorization);
    if (token === null)
      throw new GatewayError("invalid_api_key", "Missing admin token: send Authorization: Bearer <ADMIN_TOKEN>");
    if (!timingSafeEqual(expected, digest(token)))
      throw new GatewayError("invalid_api_key", "Incorrect admin token provided");
    await next();
    c.res.headers.set("cache-control", "no-store");
  };
}
