# syntax=docker/dockerfile:1
# Image of the Node processes: apps/api and apps/worker (and the nvarc CLI).
# TypeScript runs through tsx, so there is no build step; the command picks the process:
#   node --import tsx apps/api/src/main.ts
#   node --import tsx apps/worker/src/main.ts
# Build from the repository root: docker build -f docker/node.Dockerfile .
FROM node:20-slim

WORKDIR /app

# onnxruntime-node would otherwise download CUDA binaries in its install script.
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    NPM_CONFIG_UPDATE_NOTIFIER=false

# Manifests first, so the dependency layer is rebuilt only when they change. npm ci
# needs the package.json of every workspace listed in the root package.json.
COPY package.json package-lock.json ./
COPY libs/arc/package.json libs/arc/
COPY libs/contracts/package.json libs/contracts/
COPY libs/cost/package.json libs/cost/
COPY libs/telemetry/package.json libs/telemetry/
COPY libs/queues/package.json libs/queues/
COPY libs/db/package.json libs/db/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
# Development dependencies stay: tsx, which runs the TypeScript sources, is one of them.
RUN npm ci --no-audit --no-fund

COPY tsconfig.json prisma.config.ts ./
COPY prisma prisma
COPY libs libs
COPY apps/api apps/api
COPY apps/worker apps/worker
COPY apps/cli apps/cli
# The api registers the committed default model from /app/models at start; the
# sidecar image holds the same folder at the same path, where it loads it.
COPY models/tiny-arc models/tiny-arc

# prisma generate never runs the schema engine, but the CLI tries to download one
# unless PRISMA_SCHEMA_ENGINE_BINARY names an existing file (as in scripts/generate.sh).
RUN PRISMA_SCHEMA_ENGINE_BINARY="$(command -v node)" \
    npx --no-install prisma generate --schema prisma/schema.prisma

ENV NODE_ENV=production
USER node

EXPOSE 8080 9464
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]
