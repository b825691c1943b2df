# Onshi service image. Built from the repository root: docker build -t onshi .
# Runs against external PostgreSQL and Redis (DATABASE_URL, REDIS_URL); see README "Running in production".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

# libgl1 and libglib2.0-0: OpenCV's shared-library needs (facematch is part of the locked install).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The lock pins every package; --no-deps keeps mediapipe from pulling what the face mesh does not need.
COPY requirements.lock ./
RUN pip install --no-cache-dir --no-deps -r requirements.lock

COPY pyproject.toml README.md ./
COPY migrations ./migrations
COPY service ./service
COPY facematch ./facematch
COPY terminals ./terminals
# The two dlib model files facematch ships (hash-checked; never the 68-point model): docs/facematch.md.
RUN python -m facematch install-models

RUN useradd --create-home --uid 10001 onshi && mkdir -p /data && chown onshi /data
USER onshi

# production: the authority key must be provided (mounted at /data/authority), and ONSHI_SESSION_SECRET set
ENV ONSHI_ENV=production \
    ONSHI_HOST=0.0.0.0 \
    ONSHI_PORT=8000 \
    ONSHI_DATA_DIR=/data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
CMD ["python", "-m", "service"]
