# Two verbs: `make demo` runs the pipeline on the bundled sample, `make test` runs the tests.
# Both create .venv (if missing) and install the locked dependency set first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean lock

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# --no-deps: the lock is the complete, hashed set (pip-compile); nothing else is resolved.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/svit demo

# The lint first: style is never a review topic.
test: lint
	$(BIN)/python -m pytest

# ruff (format and rules, pyproject.toml) and sqlfluff (DuckDB dialect through dbt's compiler,
# .sqlfluff) on the models, macros, analyses and tests; dbt compiles against a throwaway warehouse.
lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	@tmp=$$(mktemp -d); SVIT_WAREHOUSE=$$tmp $(BIN)/sqlfluff lint models macros analyses data_tests; \
		status=$$?; rm -rf $$tmp; exit $$status

bench: $(STAMP)
	$(BIN)/python bench/run_bench.py --images $(or $(IMAGES),2000)

# Re-pin requirements.lock from pyproject.toml (needs PyPI).
lock:
	$(PYTHON) -m venv /tmp/svit-lock-venv
	/tmp/svit-lock-venv/bin/pip install --quiet pip-tools
	/tmp/svit-lock-venv/bin/pip-compile --quiet --strip-extras --extra test --extra lint --generate-hashes --output-file requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) warehouse .pytest_cache
