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
	@echo "  Health       : http://127.0.0.1:$(PORT)/healthz"
	@echo "  API          : http://127.0.0.1:$(PORT)/api/v1/openapi.json"
	@echo "  API token    : $(BIN)/presence-connector tokens create --role admin"
	@echo ""
	PORT=$(PORT) $(BIN)/presence-connector serve --port $(PORT)

test: install system-deps
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/api_bench.py

# System packages the tests need (Debian): installed only when missing (we run as root in CI).
system-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts
