# syntax=docker/dockerfile:1
# Gwangju Hub production image: gunicorn by default; the same image also runs
# the Celery worker/beat and one-shot management commands (see docker-compose.yml).
FROM python:3.11-slim

# No .pyc litter in the image, logs reach `docker logs` immediately,
# and pip stays quiet about upgrades we deliberately don't do at build time.
# PYTHONPATH=/app makes the copied source tree win over the copy that
# `pip install .` puts in site-packages, so BASE_DIR-relative paths
# (var/static, var/media, templates) always resolve under /app regardless of
# whether gunicorn, celery or manage.py did the import.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app

# Fixed UID so files written to named volumes (media) have a predictable owner.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home app

# pg_dump/pg_restore for `manage.py backup`/`restore` (docs/backup.md). They must
# be of the server's major version or newer; the commands check and say so.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*

# Install only the declared dependencies first (parsed with stdlib tomllib) so
# this heavy layer is cached until pyproject.toml changes, not on every code edit.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb')).get('project', {}).get('dependencies', [])))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# Now the project itself; deps are already satisfied so this is quick.
COPY . .
RUN pip install --no-cache-dir . \
 && rm -rf build *.egg-info \
 && mkdir -p var/static var/media \
 && chown -R app:app var

# Everything from here on, including collectstatic, runs unprivileged.
USER app

# Settings refuse to import without a SECRET_KEY/DATABASE_URL, but collectstatic
# needs neither a real secret nor a database. The throwaway values are passed
# only to this RUN (not ENV), so they never leak into the runtime environment;
# the real SECRET_KEY must come from the container environment.
ARG BUILD_SECRET_KEY=collectstatic-only-not-a-secret
RUN SECRET_KEY="$BUILD_SECRET_KEY" \
    DEBUG=0 \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
    python manage.py collectstatic --noinput

EXPOSE 8000

# No HEALTHCHECK here on purpose: the same image runs the worker/beat, which
# serve no HTTP. The web healthcheck lives in docker-compose.yml.
CMD ["gunicorn", "gwangju_hub.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
