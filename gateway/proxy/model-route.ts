// Model -> provider routing: the first route whose glob matches wins (gateway.yaml `routes`).
import type { ProviderConfig, RouteConfig } from "../config/gateway-config.ts";
import { GatewayError } from "../errors/gateway-error.ts";

export interface ModelTarget {
  readonly provider: ProviderConfig;
  /** The model name the provider receives (after strip_prefix). */
  readonly upstreamModel: string;
}

export function routeModel(routes: readonly RouteConfig[], model: string): ModelTarget {
  for (const route of routes) {
    if (!route.test(model)) continue;
    const stripped =
      route.stripPrefix && model.startsWith(route.stripPrefix) ? model.slice(route.stripPrefix.length) : model;
    return { provider: route.provider, upstreamModel: stripped };
  }
  throw new GatewayError("model_not_found", `The model \`${model}\` is not routed by this gateway`, { param: "model" });
}

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
