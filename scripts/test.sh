#!/usr/bin/env bash
# Set up and run the test suite. Uses DATABASE_URL/REDIS_URL when set (CI
# points them at PostgreSQL and Redis), else the embedded defaults; extra
# arguments go to pytest (e.g. `make test ARGS="-k login"`).
source "$(dirname "$0")/bootstrap.sh" dev
# Tests get their own broker/cache folder so they never touch a running dev app.
export VAR_DIR="${VAR_DIR:-$PWD/var/test}"
python -m pytest "$@"
