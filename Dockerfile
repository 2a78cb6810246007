# syntax=docker/dockerfile:1
# Switchboard's container image: one node, non-root, its data directory a volume
# (docs/operations.md#a-container).
#   docker build -t switchboard .
#   docker run -p 8080:8080 -v switchboard-data:/data switchboard
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
# isolated-vm and better-sqlite3 compile against this Node.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The admin console and the server's JavaScript (.build/) are built once, here (on a clone,
# bin/runtime.sh does it); then the dev tools go.
RUN node_modules/.bin/vite build --config ui/vite.config.ts \
 && node --disable-warning=ExperimentalWarning bin/build-server.ts \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE}
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json /app/LICENSE ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/.build ./.build
COPY --from=build /app/bin ./bin
COPY --from=build /app/ui/dist ./ui/dist
# The base image's user `node` (uid 1000) runs the server and owns the data directory.
RUN mkdir /data && chown node:node /data
USER node
ENV SWITCHBOARD_DATA_DIR=/data SWITCHBOARD_HOST=0.0.0.0 SWITCHBOARD_PORT=8080
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["/app/bin/container-start", "healthcheck"]
# SIGTERM (docker stop) is the graceful shutdown; give it SWITCHBOARD_SHUTDOWN_TIMEOUT_MS and more.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/bin/container-start"]
CMD ["serve"]
