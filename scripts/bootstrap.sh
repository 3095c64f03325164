# Sourced by run.sh and test.sh: creates .venv and installs the project into
# it when pyproject.toml has changed since the last install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
extra="${1:-}"
if [ ! -x .venv/bin/python ]; then
  echo "› creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed${extra:+-$extra}"
# A dev install includes everything a plain one has.
if [ -z "$extra" ] && [ -f .venv/.installed-dev ] && [ ! pyproject.toml -nt .venv/.installed-dev ]; then
  stamp=.venv/.installed-dev
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "› installing dependencies${extra:+ (with $extra)}"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".${extra:+[$extra]}"
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
# Development defaults; any of them can be overridden from the environment.
export DEBUG="${DEBUG:-1}"
