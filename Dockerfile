# The Onshi server image: the runtime dependencies only (no face, test, load or browser packages), non-root.
#   python3 dev.py image      builds it on a Debian base made here (debootstrap) and checks it: docker/image.py
#   docker build -t onshi .   with a registry: the default base below (docker/compose.yaml runs it)
# Runs against external PostgreSQL and Redis (DATABASE_URL, REDIS_URL); see README "Running in production".

# A pinned base: a Python 3.11 patch release on Debian 12. docker/image.py passes its own Debian 12 image instead
# (tagged by the date of its packages), whose python3 is Debian's 3.11.
ARG BASE_IMAGE=python:3.11.14-slim-bookworm

FROM ${BASE_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8
RUN python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version'

# --- build: uv installs uv.lock's runtime set into /opt/onshi (a venv), then Onshi itself as a wheel ---------
FROM base AS build
ARG UV_VERSION=0.13.9
# Only behind a TLS-intercepting proxy: docker/image.py puts the build machine's CA bundle here (this stage only).
COPY docker/build-ca/ /tmp/build-ca/
# Debian's python3 has no venv/pip module (python3-venv); python:3.11-slim has them.
RUN set -eu; \
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
        apt-get update -q && apt-get install -y -q --no-install-recommends python3-venv && rm -rf /var/lib/apt/lists/*; \
    fi; \
    if [ -f /tmp/build-ca/ca-certificates.crt ]; then export PIP_CERT=/tmp/build-ca/ca-certificates.crt; fi; \
    python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check -q "uv==${UV_VERSION}"
ENV UV_PYTHON=python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/onshi \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
# The dependencies first (this layer is rebuilt only when the lock changes); no extras, no dependency groups.
RUN set -eu; if [ -f /tmp/build-ca/ca-certificates.crt ]; then export SSL_CERT_FILE=/tmp/build-ca/ca-certificates.crt; fi; \
    /opt/uv/bin/uv sync --locked --no-default-groups --no-install-project
COPY service ./service
COPY virtualcard ./virtualcard
COPY facematch ./facematch
RUN set -eu; if [ -f /tmp/build-ca/ca-certificates.crt ]; then export SSL_CERT_FILE=/tmp/build-ca/ca-certificates.crt; fi; \
    /opt/uv/bin/uv sync --locked --no-default-groups --no-editable

# --- the image: the base, the venv, a user ---------------------------------------------------------------
FROM base
RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin onshi \
    && mkdir -p /data && chown onshi:onshi /data
COPY --from=build /opt/onshi /opt/onshi
# production: DATABASE_URL, REDIS_URL, ONSHI_SESSION_SECRET and the authority's key (mounted at /data/authority)
# must be given; the start refuses, one line each, without them.
ENV PATH=/opt/onshi/bin:$PATH \
    ONSHI_ENV=production \
    ONSHI_HOST=0.0.0.0 \
    ONSHI_PORT=8000 \
    ONSHI_DATA_DIR=/data
USER onshi
WORKDIR /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["/opt/onshi/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('ONSHI_PORT', '8000')}/healthz\", timeout=2)"]
CMD ["onshi"]
