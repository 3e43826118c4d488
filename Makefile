# The newcomer's commands: `make run` starts the portal, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every package, direct and transitive, pinned with its hashes; `make lock` refreshes it.
LOCK := requirements.lock
LOCK_VENV := .venv-lock
PIP_TOOLS := pip-tools==7.6.2
VENDOR := static/vendor/htmx.min.js
HOST ?= 127.0.0.1
PORT ?= 5000
# `make zoom-sim` listens on 5001 unless PORT is given on the command line.
SIM_PORT := $(if $(filter command line,$(origin PORT)),$(PORT),5001)

.PHONY: install lock run worker zoom-sim cluster test lint format bench clean

install: $(STAMP) $(VENDOR)

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; \
	  echo "pyproject.toml needs packages $(LOCK) lacks: run 'make lock', then 'make install'."; exit 1; }
	touch $(STAMP)

# Re-resolve $(LOCK) after a change to pyproject.toml, keeping every other pin;
# `make lock UPGRADE=1` moves every package to its newest allowed version.
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || \
	  { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet $(PIP_TOOLS); }
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet \
	  --generate-hashes --allow-unsafe --extra dev --strip-extras --build-deps-for editable \
	  --no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade) \
	  --output-file $(LOCK) pyproject.toml

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --silent --no-audit --no-fund

$(VENDOR): node_modules/.package-lock.json
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

run: install
	FLASK_DEBUG=1 $(BIN)/flask --app wsgi portal init-db
	FLASK_DEBUG=1 $(BIN)/flask --app wsgi portal demo --if-empty
	@echo "Background jobs (morning Daily Sessions, revoke retries): run 'make worker' in another terminal."
	FLASK_DEBUG=1 ZOOM_SIM_BASE_URL=http://$(HOST):$(PORT)/zoom-sim \
	  PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://$(HOST):$(PORT)} \
	  $(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT) --with-threads

worker: install
	FLASK_DEBUG=1 ZOOM_SIM_BASE_URL=http://$(HOST):$(PORT)/zoom-sim \
	  PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://$(HOST):$(PORT)} \
	  $(BIN)/huey_consumer huey_app.huey --workers 2

# The Zoom simulator as its own server at its own origin (see portal/zoom/simulator/server.py).
zoom-sim: install
	ZOOM_SIM_BASE_URL=$${ZOOM_SIM_BASE_URL:-http://$(HOST):$(SIM_PORT)} \
	  $(BIN)/flask --app portal.zoom.simulator.server run --host $(HOST) --port $(SIM_PORT) --with-threads

# 2 portal servers, 2 job consumers on Redis and the Zoom simulator, on this machine's
# PostgreSQL and Redis (portal/cluster/; `make cluster ARGS=--help` for the options).
cluster: install
	$(BIN)/python -m portal.cluster --with-parent $(ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check portal tests wsgi.py
	$(BIN)/ruff format --check portal tests wsgi.py

format: install
	$(BIN)/ruff format portal tests wsgi.py
	$(BIN)/ruff check --fix portal tests wsgi.py

# `make bench DATABASE_URL=postgresql://…/bench` runs the Join benchmark on PostgreSQL too
# (on a database of its own: the benchmark drops that database's public schema).
bench: install
	$(BIN)/python bench/run.py
	$(if $(DATABASE_URL),$(BIN)/python bench/run.py --database-url $(DATABASE_URL))
	$(BIN)/python bench/webhook_ack.py
	$(BIN)/python bench/health_bench.py
	$(BIN)/python bench/refresh_race.py
	$(BIN)/python bench/backup_bench.py
	$(BIN)/python bench/cluster.py

clean:
	rm -rf $(VENV) $(LOCK_VENV) node_modules static/vendor instance
