# Production image for trackhouse ingest / sink / query / migrate / replay, talking to a
# ClickHouse server through CLICKHOUSE_URL. The in-process engine (chdb and @chdb/*, ~540 MB) is
# left out; every other native part stays.
#
# Why not `npm ci --omit=optional`: npm delivers platform binaries as optional dependencies, so
# that flag also drops TypeScript 7's compiler (@typescript/typescript-linux-x64) and lz4-napi's
# binding (@antoniomuso/lz4-napi-*), which the CLI loads at start. npm has no flag to omit one
# optional package, so the build stage installs everything, prunes the dev dependencies and then
# deletes the engine's folders; the runtime stage copies that node_modules. The same steps by
# hand, without Docker: k8s/README.md ("Checking the image's install").
# NODE_IMAGE: any Node 20 image on Debian 12 with a `node` user (uid 1000), e.g. a mirror's copy.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Stand-ins for chdb's unpublished platform packages (see vendor/chdb-lib-unavailable/README.md).
COPY vendor ./vendor
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json
RUN npm prune --omit=dev \
 && rm -rf node_modules/chdb node_modules/@chdb node_modules/.bin/chdb-gen-types

FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0
COPY package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY src/schema/avsc ./src/schema/avsc
COPY clickhouse ./clickhouse
USER node
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--help"]
