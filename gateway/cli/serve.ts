// `promptgate serve`: composes the gateway from the environment (compose.ts), serves, and drains on SIGTERM.
import { composeGateway } from "../compose.ts";
import { startGateway } from "../server.ts";
import { listenFailure, stopWithParent } from "./serve-lifecycle.ts";

export async function serve(env: NodeJS.ProcessEnv): Promise<void> {
  const { deps, tracing, close } = await composeGateway(env);
  const { settings, logger } = deps;
  const gw = await startGateway(deps, settings.port, settings.host).catch(async (err: unknown) => {
    // A port in use: close what composing opened, so the process exits instead of idling on its timers.
    await close();
    throw listenFailure(err, settings.host, settings.port);
  });
  logger.info("promptgate listening", {
    url: `http://${settings.host}:${gw.port}`,
    store: deps.store.kind,
    env: settings.gatewayEnv,
    tracing,
  });

  const shutdown = async (signal: string): Promise<void> => {
    logger.info("draining", { signal, drain_ms: settings.drainTimeoutMs });
    const clean = await gw.stop(settings.drainTimeoutMs);
    await close();
    logger.info("stopped", { drained: clean });
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
  stopWithParent(env, () => void shutdown("parent exited"));
}
