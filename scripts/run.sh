#!/usr/bin/env bash
# Set everything up and run Gwangju Hub: web (127.0.0.1:8000), Celery worker
# and Celery beat, on the embedded defaults unless DATABASE_URL/REDIS_URL say
# otherwise. Ctrl-C stops all three.
source "$(dirname "$0")/bootstrap.sh"

python manage.py migrate --noinput
python manage.py seed_demo

pids=()
cleanup() {
  # Stop the supervising loops first (so nothing restarts), then what they ran.
  local children=()
  for pid in "${pids[@]}"; do children+=($(pgrep -P "$pid" || true)); done
  kill "${pids[@]}" 2>/dev/null || true
  kill "${children[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# Restart a process that exits by itself, as docker compose's `restart:` policy
# and systemd's Restart= do in production: a Celery worker can die when its
# broker vanishes mid-restore (kombu), and nothing would be mailed until then.
supervise() {
  local log=$1; shift
  while true; do
    "$@" >> "$log" 2>&1
    echo "› $(date '+%H:%M:%S') $1 $2 $3 exited ($?); restarting in 2 s" >> "$log"
    sleep 2
  done
}
supervise var/worker.log celery -A gwangju_hub worker --loglevel=INFO --concurrency=2 &
pids+=($!)
supervise var/beat.log celery -A gwangju_hub beat --loglevel=INFO --schedule var/celerybeat-schedule &
pids+=($!)
echo "› worker log: var/worker.log, beat log: var/beat.log"
echo "› Gwangju Hub: http://127.0.0.1:8000/ (admin: http://127.0.0.1:8000/admin/)"
python manage.py runserver "${PORT:-127.0.0.1:8000}"
