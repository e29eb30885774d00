# AgentIdP container image.
#
#   docker build -t agentidp:local .
#   docker run --rm -p 3000:3000 -v agentidp-data:/data agentidp:local          # embedded PGlite under /data
#   docker run --rm -p 3000:3000 -e DATABASE_URL=postgres://... agentidp:local  # external PostgreSQL
#
# Migrations run from the same image, without rebuilding (the image has no dev dependencies and no
# TypeScript sources, so `npm run db:migrate` is not available in it):
#
#   docker run --rm -e DATABASE_URL=postgres://... agentidp:local \
#     node node_modules/typeorm/cli.js migration:run -d dist/libs/database/src/data-source.js
#
# docker-compose.yml (service `migrate`) and deploy/kubernetes/migration-job.yaml do exactly that;
# run the server with DB_MIGRATIONS_RUN=false when migrations are run that way.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------------
# Stage 1: all dependencies (dev included) and the TypeScript build -> /app/dist
# ---------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

# Lockfile first: the dependency layer is rebuilt only when the dependencies change.
COPY package.json package-lock.json ./
RUN npm ci

COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
COPY migrations ./migrations
RUN npm run build

# ---------------------------------------------------------------------------------------------------
# Stage 2: runtime - production dependencies and the compiled output only
# ---------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

LABEL org.opencontainers.image.title="AgentIdP" \
      org.opencontainers.image.description="OAuth 2.0 identity provider for AI agents" \
      org.opencontainers.image.licenses="Apache-2.0"

# DATA_DIR is only used when DATABASE_URL is unset (embedded PGlite database).
ENV NODE_ENV=production \
    DATA_DIR=/data \
    NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

WORKDIR /app

# A fixed, non-root uid/gid (10001) that Kubernetes' runAsUser / runAsNonRoot can check numerically.
# /data is created before VOLUME so that a new named volume inherits its ownership.
RUN groupadd --system --gid 10001 agentidp \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin agentidp \
 && install -d -o 10001 -g 10001 -m 0750 /data

# bcrypt 6 ships prebuilt binaries, so no compiler toolchain is needed here. The application files
# stay owned by root: the service user can read them but not change them.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev \
 && npm cache clean --force
COPY --from=build /app/dist ./dist

USER 10001:10001
VOLUME /data
EXPOSE 3000

# The server drains in-flight requests on SIGTERM and exits 0 within SHUTDOWN_TIMEOUT_MS.
STOPSIGNAL SIGTERM

# Liveness only (GET /health touches no dependency); slim images have no curl, so node does the request.
# Kubernetes ignores HEALTHCHECK and uses the probes in deploy/kubernetes/deployment.yaml instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]

# As `npm start` runs it (a test keeps the two equal): a young generation of 4 MB semi-spaces
# instead of V8's 16 MB keeps some 20 MB off the resident set under load, for a few per cent of
# throughput (scavenges of short-lived request objects run four times as often).
CMD ["node", "--max-semi-space-size=4", "dist/apps/agentidp/src/main.js"]
