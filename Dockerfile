# syntax=docker/dockerfile:1
#
# promptgate image. Node 24 runs the TypeScript sources directly (built-in type
# stripping), so there is no build step: the image is the production
# dependencies, gateway/ without its unit tests, and the default config/
# (.dockerignore keeps tests, test support and benchmarks out).
#
#   docker build -t promptgate .
#   docker run --rm -p 8080:8080 promptgate
#
ARG NODE_IMAGE=node:24-slim

# ---- dependencies: cached on package*.json only --------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# --ignore-scripts: no production dependency needs an install script (protobufjs'
# postinstall only prints a version warning), and the dev-only `node` package
# that downloads a Node binary is omitted anyway.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime ---------------------------------------------------------------------
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    PORT=8080 \
    CONFIG_DIR=/app/config \
    DRAIN_TIMEOUT_MS=30000
WORKDIR /app

# Code and config are owned by root and read-only for the runtime user.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY gateway/ ./gateway/
COPY config/ ./config/

# The embedded store (STATE_PATH, default ./.promptgate/state.db) is the only
# thing written at run time; give the runtime user that directory. Mount a
# volume there (or set STATE_PATH) to keep it, or set REDIS_URL.
RUN mkdir -p /app/.promptgate && chown 1000:1000 /app/.promptgate

# The `node` user of the official image, numeric so that Kubernetes'
# runAsNonRoot can verify it.
USER 1000:1000

EXPOSE 8080

# slim has no curl: probe /healthz with node's built-in fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# SIGTERM: readiness fails, open streams drain within DRAIN_TIMEOUT_MS, exit 0.
# (docker stop's default 10 s grace is shorter than the default drain deadline:
# use `docker stop -t 40` or lower DRAIN_TIMEOUT_MS.)
STOPSIGNAL SIGTERM
CMD ["node", "gateway/main.ts", "serve"]
