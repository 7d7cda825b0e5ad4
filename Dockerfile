# syntax=docker/dockerfile:1
# Switchboard: one image for every process; the command picks which (deploy/docker/entrypoint.py):
#   rasa | actions | console | recorder | queue-clock | migrate
#   | any `switchboard` CLI command (agents add ..., keys, report)
#
#   docker build -t switchboard .                       # no model: mount one at /app/models
#   docker build --build-arg MODEL=models/switchboard-<hash>.tar.gz -t switchboard .   # baked in
#
# Runs as an unprivileged user (uid 10001) and writes only to /data (SWITCHBOARD_DATA_DIR: the
# metrics files, a development SMS outbox) and /tmp (the unpacked model): both can be volumes,
# so the root filesystem can be read-only. Settings are environment variables (README).
ARG PYTHON_IMAGE=python:3.10-slim-bookworm

FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
# The dependencies in their own layer (pyproject.toml and the constraints change it, code does
# not): a stub of the package pulls in exactly its dependencies, at the tested versions.
COPY pyproject.toml README.md ./
COPY deploy/docker/constraints.txt ./
RUN pip install 'setuptools<70' wheel \
 && mkdir switchboard && touch switchboard/__init__.py \
 && pip install -c constraints.txt . \
 && pip uninstall -y switchboard

FROM ${PYTHON_IMAGE}
ARG MODEL=deploy/docker/models-README.txt
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib \
    RASA_TELEMETRY_ENABLED=false \
    SWITCHBOARD_DATA_DIR=/data \
    SWITCHBOARD_MODEL_DIR=/app/models \
    SWITCHBOARD_DEMO_DATA=false \
    LOG_FORMAT=json
RUN groupadd --system --gid 10001 switchboard \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
        --shell /usr/sbin/nologin switchboard \
 && install -d -o 10001 -g 10001 -m 0700 /data
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
COPY . .
COPY ${MODEL} /app/models/
# The project itself, editable: its code stays in /app, where settings.PROJECT_ROOT finds
# endpoints.yml, credentials.yml, domain/ and models/ (and `switchboard` is on PATH).
RUN pip install --no-deps --no-build-isolation --no-cache-dir -e . \
 && python -m compileall -q /app/switchboard /app/processes /app/bot /app/actions /app/contacts \
        /app/accounts /app/verification /app/handoff /app/operations
USER 10001:10001
EXPOSE 5005 5055 8080 8081 8082
ENTRYPOINT ["python", "/app/deploy/docker/entrypoint.py"]
CMD ["--help"]
