# syntax=docker/dockerfile:1
# One image for every Twichist stage (compose.yml runs it as migrate, ingest, enrich and api).
# Node runs the TypeScript directly (type stripping), so there is no build step: the first stage
# only installs the production dependencies, the second copies them beside the sources.

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: the only install scripts are chdb's (a no-op), protobufjs's (a notice) and
# onnxruntime-node's (GPU add-ons, which .npmrc already skips); CPU binaries ship in the packages.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    TWICHIST_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# Sources; .dockerignore keeps tests, data and local state out.
COPY . .
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
ENTRYPOINT ["node", "bin/twichist.ts"]
CMD ["--help"]
