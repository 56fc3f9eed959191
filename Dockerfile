# syntax=docker/dockerfile:1
# SlipStream's server: `docker build -t slipstream .` — how to run it is in the README (Operations → Docker image).

ARG NODE_VERSION=20

# ---- build: dependencies (better-sqlite3 is compiled here, against this Debian and Node), the UI, the agent bundle
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# the UI (.next) and dist/agent, then only what runs: tsx runs the server's TypeScript, so it stays
RUN npm run build && npm prune --omit=dev

# ---- runtime: the server as an unprivileged user, its data on a volume
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# bubblewrap sandboxes local instances; tini reaps their processes and passes signals on
RUN apt-get update \
  && apt-get install -y --no-install-recommends bubblewrap ca-certificates tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
  NEXT_TELEMETRY_DISABLED=1 \
  DATA_DIR=/data \
  PORT=8080
RUN groupadd --system --gid 10001 slipstream \
  && useradd --system --uid 10001 --gid slipstream --home-dir /home/slipstream --create-home --shell /usr/sbin/nologin slipstream \
  && mkdir -p /data \
  && chown slipstream:slipstream /data
WORKDIR /app
# the code belongs to root (the server cannot change it); only the data directory and Next's cache are its own
COPY --from=build /app/package.json /app/package-lock.json /app/next.config.ts /app/tsconfig.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/.next ./.next
COPY --from=build /app/dist ./dist
COPY --from=build /app/server ./server
COPY --from=build /app/core ./core
COPY --from=build /app/protocol ./protocol
COPY --from=build /app/agent ./agent
COPY --from=build /app/app ./app
COPY --from=build /app/cli ./cli
COPY --from=build /app/bin ./bin
COPY --from=build /app/drizzle ./drizzle
COPY --from=build /app/examples ./examples
COPY --from=build /app/scripts ./scripts
RUN mkdir -p .next/cache && chown slipstream:slipstream .next/cache
USER slipstream
VOLUME ["/data"]
EXPOSE 8080
# SIGTERM drains within 10 s (docker stop's default grace): new runs refused, sockets told to reconnect, DB closed
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["node", "scripts/healthcheck.mjs"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "server/main.ts"]
