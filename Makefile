# Everything a new user needs: `make run` and `make test` from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
export CONNECTOR_INSTANCE_PATH ?= $(CURDIR)/instance
# Keep the package's bytecode (__pycache__, git-ignored) even where the shell says not to write it: each
# `presence-connector` process (a CLI command, every `serve` the tests start) would compile our modules again
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install install-runtime constraints run test lint format scv-test sf-checks sf-convert bench bench-deps clean system-deps

# Two installs into one venv: `make run` needs the runtime dependencies only (pyproject.toml [project]
# dependencies: no Playwright, no test tools); `make install` (lint, test, bench) adds the [test] extra.
# Both take the versions pinned in constraints.txt, so a fresh clone installs what was tested
# (`make constraints` writes it again from an upgraded venv).
$(BIN)/.installed-runtime: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@ $(BIN)/.installed-runtime

install: $(BIN)/.installed

install-runtime: $(BIN)/.installed-runtime

# Pins of every package the full install holds (runtime and test), from the current venv.
constraints: install
	$(BIN)/pip install --quiet --upgrade -e '.[test]'
	{ echo '# Versions tested: `make run` and `make install` install these (pip -c). Written by `make constraints`.'; \
	  $(BIN)/pip freeze --exclude-editable | grep -v '^presence-connector'; } > constraints.txt

run: install-runtime
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

test: install system-deps lint
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory scv-test
	$(MAKE) --no-print-directory sf-checks

# The habits that keep the code readable: ruff's lint rules and format check (pyproject.toml [tool.ruff]),
# then mypy (pyproject.toml [tool.mypy]). `make format` rewrites what the format check would refuse.
LINTED := connector adapters tests bench
lint: install
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

# The Service Cloud Voice connector (salesforce/scv-connector): its node tests run on the real
# @salesforce/scv-connector-base from npm, and one round trip against `presence-connector serve` from $(VENV).
scv-test: install system-deps
	cd salesforce/scv-connector && npm ci --no-audit --no-fund --loglevel=error && node --test test/*.test.js

# The Salesforce package checked with Salesforce's own npm packages (salesforce/checks): every metadata file
# against the Metadata API types of @salesforce/types, the Aura and static-resource JavaScript with
# @salesforce/eslint-plugin-aura (Locker) and @locker/eslint-config-locker (LWS), Apex with
# @apexdevtools/apex-parser. Each check also has a test that feeds it a broken copy and sees it fail.
sf-checks: system-deps
	cd salesforce/checks && npm ci --no-audit --no-fund --loglevel=error && node --test test/*.test.js

# Not part of `make test` (it downloads Salesforce's CLI, ~500 MB): check that salesforce/ converts to
# metadata-API format with Salesforce's own `sf project convert source`. The CLI lands in tools/sf-cli;
# its package.json overrides undici to 7 (sf 2.14x+ crashes on Node 20 through undici 8 inside jsforce).
SF_CLI := $(CURDIR)/tools/sf-cli/node_modules/.bin
SF_CONVERT_DIR ?= $(CURDIR)/test-artifacts/sf-convert
sf-convert: system-deps
	cd tools/sf-cli && npm install --no-audit --no-fund --loglevel=error
	rm -rf $(SF_CONVERT_DIR)
	cd salesforce && PATH="$(SF_CLI):$$PATH" SF_DISABLE_TELEMETRY=true SF_AUTOUPDATE_DISABLE=true \
		sf project convert source --root-dir force-app --output-dir $(SF_CONVERT_DIR)
	@echo "converted files:" && cd $(SF_CONVERT_DIR) && find . -type f | sort

# about 15 minutes on 2 cores (the scripts' default rounds add up to some 12 minutes of measuring, plus
# building the stores; longer on a loaded machine): state changes next to the anchor (SQLite and PostgreSQL),
# reports on 1,000 agents x 30 days of generated history, the 10,000-agent dashboard snapshot, the Salesforce
# flush, delivery, scale-out, the dashboard in Chromium, the /metrics scrape with 2,000 open streams
bench: install system-deps bench-deps
	$(BIN)/python bench/api_bench.py --postgres
	$(BIN)/python bench/reports_bench.py
	$(BIN)/python bench/salesforce_bench.py
	$(BIN)/python bench/dispatch_bench.py
	$(BIN)/python bench/scale_bench.py
	$(BIN)/python bench/dashboard_bench.py
	$(BIN)/python bench/metrics_bench.py

# The benchmarks' load generator (bench/api_bench.py drives HTTP with wrk), installed only when missing.
bench-deps:
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk)

# System packages the tests need (Debian), installed only when missing (CI runs as root):
# PostgreSQL for the store tests, chromium for the browser tests (driven by Playwright; never
# `playwright install`), node and npm for the Service Cloud Voice connector's tests.
system-deps:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

clean:
	rm -rf $(VENV) instance .pytest_cache test-artifacts salesforce/scv-connector/node_modules salesforce/checks/node_modules tools/sf-cli/node_modules
