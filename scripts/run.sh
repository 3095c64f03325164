#!/usr/bin/env bash
# Set everything up and run Gwangju Hub: web (127.0.0.1:8000), Celery worker
# and Celery beat, on the embedded defaults unless DATABASE_URL/REDIS_URL say
# otherwise. Ctrl-C stops all three.
source "$(dirname "$0")/bootstrap.sh"

python manage.py migrate --noinput
python manage.py seed_demo

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

celery -A gwangju_hub worker --loglevel=INFO --concurrency=2 > var/worker.log 2>&1 &
pids+=($!)
celery -A gwangju_hub beat --loglevel=INFO --schedule var/celerybeat-schedule > var/beat.log 2>&1 &
pids+=($!)
echo "› worker log: var/worker.log, beat log: var/beat.log"
echo "› Gwangju Hub: http://127.0.0.1:8000/ (admin: http://127.0.0.1:8000/admin/)"
python manage.py runserver "${PORT:-127.0.0.1:8000}"
