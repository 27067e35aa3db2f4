// Model -> provider routing: the first route whose glob matches wins (gateway.yaml `routes`). Shared by
// the request path (proxy/) and the in-process caller of evaluations (evals/caller.ts).
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
