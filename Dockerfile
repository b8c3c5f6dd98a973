# syntax=docker/dockerfile:1
# ctlog image: one image, every role (`ctlog ctfe|read|sequencer|serve|migrate|...`).
# Build: docker build -t ghcr.io/example/ctlog:<tag> .
# tsx runs the TypeScript sources, so there is no compile step; the build stage exists only
# because better-sqlite3 may compile its native addon from source (python3, make, g++).

FROM node:20-bookworm-slim AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM node:20-bookworm-slim
# ca-certificates: the default roots bundle (shards.yaml `roots:`). tini: PID 1 that forwards
# SIGTERM to node (ctlog drains on SIGTERM) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
# Numeric user (the image's `node` user) so Kubernetes can verify runAsNonRoot.
RUN mkdir -p /var/lib/ctlog /etc/ctlog && chown 1000:1000 /var/lib/ctlog
USER 1000:1000
ENV NODE_ENV=production \
    CTLOG_CONFIG=/etc/ctlog/shards.yaml \
    CTLOG_DATA=/var/lib/ctlog \
    CTLOG_LISTEN=0.0.0.0:6962
EXPOSE 6962
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/ctlog.mjs"]
CMD ["serve"]
