// What the /v1 routes add to model routing (providers/model-route.ts): the provider of model-less calls
// and the models GET /v1/models advertises.
import type { ProviderConfig, RouteConfig } from "../config/gateway-config.ts";

/** The provider for model-less calls (other /v1/* paths): the catch-all route's, else none. */
export function defaultProvider(routes: readonly RouteConfig[]): ProviderConfig | null {
  return routes.find((r) => r.match === "*")?.provider ?? null;
}

/** GET /v1/models: every model name the routes advertise, in route order, without repeats. */
export function advertisedModels(routes: readonly RouteConfig[], mockModels: readonly string[]): string[] {
  const seen = new Set<string>();
  for (const route of routes) {
    const names = route.provider.builtin === "mock" && route.match.includes("*") ? mockModels : route.models;
    for (const name of names) if (route.test(name)) seen.add(name);
  }
  return [...seen];
}
