// What `serve` needs around the gateway compose.ts builds: a listen failure in plain words, and
// stopping with the npm process that started it.

/** Why the gateway could not listen, naming the address and what to change; other errors pass through. */
export function listenFailure(err: unknown, host: string, port: number): unknown {
  const where = `${host}:${port}`;
  const reasons: Partial<Record<string, string>> = {
    EADDRINUSE: `port ${port} is already in use (${where}): stop what listens there, or set PORT to a free port`,
    EACCES: `not allowed to listen on ${where}: use a port above 1023, or set PORT`,
    EADDRNOTAVAIL: `cannot listen on ${where}: HOST is not an address of this machine`,
  };
  const reason = reasons[(err as NodeJS.ErrnoException | null)?.code ?? ""];
  return reason === undefined ? err : new Error(reason, { cause: err });
}

/**
 * Under `npm start` or `npx promptgate serve`, npm forwards SIGTERM to the shell it ran the command in,
 * and that shell (dash, /bin/sh on Debian and in the node images) exits without passing it on: the
 * gateway would live on, orphaned. So when npm started it, the gateway stops when its parent goes
 * (a parent that exits leaves its child re-parented, with a new ppid). Not otherwise: `nohup ... &`,
 * `setsid` and daemon wrappers leave the gateway running on purpose when their shell exits.
 */
export function stopWithParent(env: NodeJS.ProcessEnv, stop: () => void, intervalMs = 500): void {
  if (env["npm_lifecycle_event"] === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    stop();
  }, intervalMs);
  timer.unref();
}
