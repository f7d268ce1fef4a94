# The two commands: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean vendor

$(STAMP): requirements/base.txt requirements/dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m subsync.run

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks need PostgreSQL and Redis on 127.0.0.1 (see README "Performance").
bench: $(STAMP)
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/sync.py

# Refresh the vendored htmx and Chart.js in static/vendor/ (needs npm; versions pinned in the script).
vendor:
	python3 scripts/vendor_static.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf var/ .pytest_cache .ruff_cache
