# kube-governor image: the external metrics adapter and the admission webhook (`governor serve`) in one Node process.
# Multi-stage: compile TypeScript with dev dependencies, install production dependencies alone, copy both into a
# clean runtime stage. hack/image-test.sh builds and runs it with podman (no Docker engine needed).

# ---- build: tsc -> dist/ (JSON schemas are copied by tsc because they are imported with `with { type: 'json' }`), then
# esbuild -> dist/bundle/ (hack/bundle.mjs), the entry point the image runs
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the package's `prepare` (the same build, for a checkout) would run before src/ is copied.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY hack/bundle.mjs ./hack/bundle.mjs
# `governor version` and governor_build_info show the commit: docker build --build-arg GIT_COMMIT=$(git rev-parse HEAD) .
ARG GIT_COMMIT=
RUN npm run build \
 && mkdir -p /empty/etc/governor/policies

# ---- deps: production node_modules only, in their own stage so npm's cache never reaches the runtime image
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Type declarations and source maps of dependencies are never read at runtime (about 40 MB, mostly client-node).
# --ignore-scripts: `prepare` needs tsc, a dev dependency; no production dependency has an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

# ---- runtime: Node 24 LTS (the release CI tests on: hack/ensure-node.sh)
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /src/dist ./dist
# The repository's sample policies, for reference (`governor lint /app/policies`); they are not loaded by default.
COPY policies ./policies
# The policy directory the server reads: empty in the image; in a cluster the kube-governor-policies ConfigMap is
# mounted here (an empty directory is a valid, empty policy set).
COPY --from=build /empty/etc/governor /etc/governor
# The official image's `node` user, given by number so the kubelet can verify runAsNonRoot without /etc/passwd.
USER 1000:1000
# 6443 external metrics API (HTTPS), 8443 admission webhook (HTTPS), 9100 /metrics and health (HTTP).
EXPOSE 6443 8443 9100
# Exec form: node is PID 1 and receives SIGTERM itself; `governor serve` handles it (stop accepting, finish
# in-flight requests, exit), so no init shim or shell is needed at runtime.
ENTRYPOINT ["node", "dist/bundle/cli.js"]
# The root filesystem can be read-only: the only writes are generated certificates, under /tmp (mount a tmpfs or an
# emptyDir there). In a cluster the Deployment passes --tls-cert-file/--tls-private-key-file from the TLS Secret.
CMD ["serve", "--policies", "/etc/governor/policies", "--cert-dir", "/tmp/governor-certs"]
