# syntax=docker/dockerfile:1
# Build stage: compile TypeScript to dist/.
FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies only, non-root.
FROM node:26-slim AS runtime
ENV NODE_ENV=production \
    AUTODIALER_HTTP_PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
# The campaign page's files (served from web/ beside dist/).
COPY web ./web
COPY jobs ./jobs
COPY docker/healthcheck.js ./docker/healthcheck.js
USER node
EXPOSE 8080
# A server (start, server) must answer /healthz, the simulator /_sim/stats; a worker-only
# container has no HTTP port and is healthy while its process runs.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "docker/healthcheck.js"]
ENTRYPOINT ["node", "bin/autodialer.js"]
CMD ["start"]
