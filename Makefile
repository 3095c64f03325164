# Project tasks. The README's two commands are `make run` and `make test`.
.PHONY: run test vendor lint messages bench drill

run:  ## set up and run web + worker + beat on http://127.0.0.1:8000
	bash scripts/run.sh

test:  ## set up and run the whole test suite
	bash scripts/test.sh $(ARGS)

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

messages:  ## refresh the Korean catalogue (needs gettext); commit the .po and .mo
	DEBUG=1 .venv/bin/python manage.py makemessages -l ko --ignore=.venv --ignore=var --ignore=static/vendor
	DEBUG=1 .venv/bin/python manage.py compilemessages -l ko --ignore=.venv

vendor:  ## refresh static/vendor/ from pinned npm packages
	bash scripts/vendor.sh

bench:  ## benchmark data set in PostgreSQL, production server, wrk at 1 and 16 clients -> docs/benchmarks.md
	bash -c 'source scripts/bootstrap.sh && exec python scripts/bench.py'

drill:  ## fault drill: production server, own Redis/SMTP/worker/beat, faults under 16 clients -> docs/reliability.md
	bash -c 'source scripts/bootstrap.sh dev && exec python scripts/drill.py $(ARGS)'
