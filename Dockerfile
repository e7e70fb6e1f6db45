# syntax=docker/dockerfile:1
# Convene API image: a slim, non-root runtime that migrates the database, then serves.
# Needs CONVENE_DATABASE_URL, CONVENE_JWT_SECRET (or a public key / JWKS URL) and
# CONVENE_SECRET_KEYS; see README.

FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN python -m venv /venv && /venv/bin/pip install .

FROM python:3.12-slim
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CONVENE_ENVIRONMENT=production \
    CONVENE_DATA_DIR=/tmp/convene
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin convene
WORKDIR /app
COPY --from=build /venv /venv
# Migrations are read from the working directory by `convene serve` and `convene migrate`.
COPY alembic.ini ./
COPY migrations ./migrations
USER convene
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
CMD ["convene", "serve", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]
