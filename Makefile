# Two entry points (see README): `make run` sets up and runs the platform embedded (SQLite, a local
# Celery worker on a filesystem broker, demo data); `make test` sets up the same way and runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test worker clean-var benchmarks system-packages

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

setup: $(VENV)/.installed
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py load_demo

run: setup
	@mkdir -p var/log
	@echo "Starting a Celery worker (log: var/log/worker.log) ..."
	@$(VENV)/bin/celery -A backend.config worker -B -Q evaluation,sandbox,default,sweep -c 2 --loglevel=INFO \
		--schedule var/celerybeat-schedule > var/log/worker.log 2>&1 & echo $$! > var/worker.pid
	@echo ""
	@echo "  DataPerf platform: http://$(HOST):$(PORT)/   (admin: http://$(HOST):$(PORT)/admin/, API docs: /api/docs/)"
	@echo "  Emails (password resets, notifications) are written to var/mail/ instead of being sent."
	@echo "  Stop with Ctrl-C."
	@echo ""
	@trap 'kill $$(cat var/worker.pid) 2>/dev/null' EXIT INT TERM; \
		$(VENV)/bin/gunicorn backend.config.asgi:application -k uvicorn_worker.UvicornWorker -b $(HOST):$(PORT) -w 2 \
		--timeout 120 --keep-alive 15 --access-logfile -

worker: $(VENV)/.installed
	$(VENV)/bin/celery -A backend.config worker -B -Q evaluation,sandbox,default,sweep --loglevel=INFO

# Browser tests drive Debian's chromium; closed-division tests need bubblewrap. Installed when missing (root).
system-packages:
	@missing=""; command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing$$missing ..."; apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; \
		else echo "Please install:$$missing (Debian packages)"; exit 1; fi; \
	fi

test: $(VENV)/.installed system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

benchmarks: $(VENV)/.installed
	$(PY) benchmarks/bench_selection.py

clean-var:
	rm -rf var
