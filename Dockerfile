# syntax=docker/dockerfile:1
# Endcap API image: `docker build -t endcap .` (or `docker compose -f infra/compose.yaml up`).
# Both stages use the same base image so the venv's interpreter path
# (/usr/local/bin/python3.11) exists unchanged in the runtime stage.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /build
# Only what hatchling needs: project metadata, the README it names as `readme`,
# the package, and the migrations it force-includes as endcap/migrations.
COPY pyproject.toml README.md ./
COPY src/ src/
COPY migrations/ migrations/
# Build the wheel, then install it (not the source tree) with the OTLP exporter.
# A current pip first: the one a venv starts with can fail to resolve the
# OpenTelemetry packages. Every dependency ships manylinux wheels, so no
# compiler is needed here.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && set -- /wheels/endcap-*.whl \
 && /opt/venv/bin/pip install "$1[otlp]"

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENDCAP_HOST=0.0.0.0 \
    ENDCAP_PORT=8000
# A fixed numeric uid lets Kubernetes verify runAsNonRoot. /app is its home and
# the working directory, so the SQLite default (./endcap.db) still works when
# no ENDCAP_DATABASE_URL is given.
# The upload spool and the activation drop folder (infra/compose.yaml mounts named
# volumes there) are made here, owned by that user: a new named volume takes its
# mount point's owner from the image, and would be root's otherwise.
RUN groupadd --system --gid 10001 endcap \
 && useradd --system --uid 10001 --gid endcap --home-dir /app --create-home endcap \
 && mkdir -p /var/lib/endcap/uploads /var/lib/endcap/activations \
 && chown -R endcap:endcap /var/lib/endcap
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# slim has no curl; urlopen raises (exit 1) on a refused connection or non-2xx.
# start-period leaves time for `endcap migrate` before the server listens.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('ENDCAP_PORT', '8000'), timeout=3)"
# Migrate, then replace the shell with the server so it is PID 1 and gets SIGTERM.
# With several replicas, run `endcap migrate` once elsewhere and start them with
# `endcap serve` (see infra/README.md).
CMD ["sh", "-c", "endcap migrate && exec endcap serve"]
