# Production image for trackhouse ingest / sink / query / migrate / replay, talking to a
# ClickHouse server through CLICKHOUSE_URL. The in-process engine (chdb and @chdb/*, ~540 MB) is
# left out; every other native part stays.
#
# Why not `npm ci --omit=optional`: npm delivers platform binaries as optional dependencies, so
# that flag also drops TypeScript 7's compiler (@typescript/typescript-linux-x64) and lz4-napi's
# binding (@antoniomuso/lz4-napi-*), which the CLI loads at start. npm has no flag to omit one
# optional package, so the build stage installs everything, prunes the dev dependencies and then
# deletes the engine's folders; the runtime stage copies that node_modules. The same steps by
# hand, without Docker: k8s/README.md ("The image").
#
# NODE_IMAGE: any Node 20, 22 or 24 image with a `node` user (uid 1000), e.g. a mirror's copy,
# or one made without a registry by k8s/image/base-from-debootstrap.sh.
# The default is Node 24 (LTS) on Debian 13 (trixie, glibc 2.41): the official uWebSockets.js
# binaries for Node 22/24 need glibc 2.38 or newer, which Debian 12 (bookworm) lacks (Node 20 and,
# through uws-node22, Node 22 also run there); src/common/uws.ts picks the build at start and
# logs which one it loaded.
ARG NODE_IMAGE=node:24-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Stand-ins for chdb's unpublished platform packages (see vendor/chdb-lib-unavailable/README.md).
COPY vendor ./vendor
RUN npm ci
COPY tsconfig.json tsconfig.build.json tsconfig.web.json ./
COPY src ./src
# The servers, then the dashboard's page (browser modules and static files into dist/dashboard/web).
RUN npm run build
RUN npm prune --omit=dev \
 && rm -rf node_modules/chdb node_modules/@chdb node_modules/.bin/chdb-gen-types
# The three uWebSockets.js builds ship ~60 binaries (~350 MB) for every platform and Node; the
# image keeps the one for its own platform and Node (the loader finds no other to choose);
# uws-node22 is absent on Node 20 (optional, engines >=22).
RUN keep="uws_$(node -p 'process.platform + "_" + process.arch + "_" + process.versions.modules').node" \
 && for d in node_modules/uWebSockets.js node_modules/uws-official node_modules/uws-node22; do \
      if [ -d "$d" ]; then find "$d" -name 'uws_*.node' ! -name "$keep" -delete; fi; done \
 && node -e "import('./dist/common/uws.js').then((m) => { m.loadUws(); console.log(m.uwsLoaded()); })"

FROM ${NODE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0
COPY package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY src/schema/avsc ./src/schema/avsc
COPY clickhouse ./clickhouse
USER node
# `trackhouse query` is started with node options of its own (its HTTP thread's heap,
# src/common/heap.ts): k8s/base/query.yaml sets them as its command; by hand,
# `docker run --entrypoint node <image> --max-semi-space-size=64 --initial-old-space-size=160 dist/cli/main.js query`.
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--help"]
