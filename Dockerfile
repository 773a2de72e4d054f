# Production image for trackhouse ingest / sink / query / migrate / replay (ClickHouse server
# via CLICKHOUSE_URL; the in-process chDB engine is left out with --omit=optional).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY schemas ./schemas
COPY clickhouse ./clickhouse
USER node
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--help"]
