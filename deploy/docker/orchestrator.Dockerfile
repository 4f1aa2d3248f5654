# The orchestrator: the /api/v1 API (with in-process workers) and, with another command, worker pools.
#   docker build -f deploy/docker/orchestrator.Dockerfile -t docsearch-orchestrator:0.1.0 .
#   API:     python -m orchestrator api            (the default command)
#   workers: python -m orchestrator worker --concurrency 4
# No ML library: Redis, the Chroma HTTP client and httpx to compute. The `docsearch` CLI is installed too.
# The operator console is built in a Node stage of its own; only its static files enter the image.
FROM node:20.19.5-bookworm-slim AS console
WORKDIR /console
COPY services/orchestrator/console/package.json services/orchestrator/console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY services/orchestrator/console ./
RUN npm run build

FROM python:3.11.11-slim-bookworm

# MALLOC_ARENA_MAX: tantivy's threads would each take a malloc arena, and the API's memory creep up.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MALLOC_ARENA_MAX=2 \
    ORCH_HOST=0.0.0.0 \
    ORCH_PORT=8080 \
    ORCH_CONSOLE_DIR=/app/console

WORKDIR /app
COPY services/orchestrator/requirements.txt services/orchestrator/requirements.txt
RUN pip install -r services/orchestrator/requirements.txt
COPY shared shared
COPY services/orchestrator services/orchestrator
RUN pip install --no-deps ./shared ./services/orchestrator
COPY --from=console /console/dist /app/console

# Runtime requirements only: test packages (requirements-test.txt) never enter the image, nor do tests/.
# /data/blobs: where compose and Kubernetes mount the originals volume (ORCH_BLOB_URL); created here owned
# by the app user, so a fresh Docker volume starts writable by it. The root filesystem can be read-only.
# /data/lexical: each API process's lexical index (ORCH_LEXICAL_DIR), derived state rebuilt when lost.
RUN groupadd --gid 10001 app && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin app \
    && mkdir -p /data/blobs /data/lexical && chown 10001:10001 /data/blobs /data/lexical
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=3)"]
CMD ["python", "-m", "orchestrator", "api"]
