# One image for every service (broker, gateway, sandbox; Deno comes from node_modules). docker-compose.yml
# picks the service with `command:`; the default below runs the gateway.
#
#   docker build -t secutils-secrets .
#   docker run ... secutils-secrets node dist/broker/main.js
#
# Works with the classic builder and BuildKit alike (no BuildKit-only syntax).
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app

# Debian's Chromium for page trackers (the sandbox drives it with playwright-core;
# CHROMIUM_PATH=/usr/lib/chromium/chromium). The other services never start it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-liberation \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first so that source edits do not invalidate this layer. The
# project's own install step (compiling to dist/) needs the source: it runs below.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force

# The source. .dockerignore keeps node_modules, local data, generated keys and
# certificates, and .env files out of the build context.
COPY . .

# The services run compiled (esbuild, a production dependency), as under npm start.
RUN node common/cli/build.mjs

# Code and dependencies stay owned by root and read-only for the runtime user.
# Make the source readable even when it was checked out under umask 077.
RUN find /app -path /app/node_modules -prune -o -exec chmod a+rX,go-w {} +

USER node

# gateway (HTTP), broker (gRPC, mTLS), sandbox (gRPC, mTLS)
EXPOSE 7070 7071 7072

CMD ["node", "dist/gateway/main.js"]
