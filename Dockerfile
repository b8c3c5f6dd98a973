# syntax=docker/dockerfile:1
# ctlog image: one image, every role (`ctlog ctfe|read|sequencer|serve|migrate|shard ...`).
# Build: docker build -t ghcr.io/example/ctlog:<tag> .
# The build stage installs exactly the lock file (npm ci), compiles the TypeScript to dist/
# (npm run build) and drops the development packages (tsx, typescript); the image runs the
# compiled JavaScript only. python3, make and g++: better-sqlite3 and pkcs11js (PKCS#11 log
# keys) may build their native addons. A PKCS#11 module (the HSM vendor's library) is mounted
# into the container and named by CTLOG_PKCS11_MODULE.
#
# Configuration: the image ships no shards.yaml (a default one would start a demo log that
# trusts the public demo root). Mount yours at /etc/ctlog/shards.yaml (k8s/base mounts the
# ctlog-config ConfigMap there); without it every command stops with
#   ctlog: bad configuration: /etc/ctlog/shards.yaml: no such file; ... mount your shards.yaml there ...
# and exit code 2. Keys live under /var/lib/ctlog/keys (CTLOG_DATA).

FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM node:20-bookworm-slim
# ca-certificates: the default roots bundle (shards.yaml `roots:`). tini: PID 1 that forwards
# SIGTERM to node (ctlog drains on SIGTERM) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
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
