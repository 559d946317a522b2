# Everything a new user needs: `make run` and `make test` from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
export CONNECTOR_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: install run test bench clean system-deps

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/presence-connector init-db --demo
	@echo ""
	@echo "  Landing page : http://127.0.0.1:$(PORT)/"
	@echo "  Softphone    : http://127.0.0.1:$(PORT)/softphone   (agent id + PIN, e.g. edred / 1234)"
	@echo "  Dashboard    : http://127.0.0.1:$(PORT)/dashboard   (supervisor / supervisor-demo)"
	@echo "  Wallboard    : http://127.0.0.1:$(PORT)/dashboard/wallboard"
	@echo "  Admin        : http://127.0.0.1:$(PORT)/admin       (admin / admin-demo)"
	@echo "  Health       : http://127.0.0.1:$(PORT)/healthz"
	@echo "  API          : http://127.0.0.1:$(PORT)/api/v1/openapi.json"
	@echo "  API token    : $(BIN)/presence-connector tokens create --role admin"
	@echo ""
	PORT=$(PORT) $(BIN)/presence-connector serve --port $(PORT)

test: install system-deps
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/api_bench.py
	$(BIN)/python bench/salesforce_bench.py
	$(BIN)/python bench/scale_bench.py

# System packages the tests need (Debian), installed only when missing (CI runs as root):
# PostgreSQL for the store tests, chromium for the browser tests (driven by Playwright; never
# `playwright install`).
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
