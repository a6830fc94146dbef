# linkwatch developer entry points. `make example` and `make test` are the README's two commands.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SEED   := config/articles/us-intransigence-trump-kim.md

.PHONY: setup example test lint bench-smoke clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

# Check the example article with the example config, record it in SQLite (data/linkwatch.db).
# Exit 1 (broken links found) and 3 (this machine has no network) are verdicts, not failures.
example: setup
	@$(BIN)/linkwatch check $(SEED); code=$$?; \
	  if [ $$code -eq 1 ] || [ $$code -eq 3 ]; then echo "(linkwatch exited $$code: see the report above)"; exit 0; fi; exit $$code

# The whole test suite, on SQLite and on the PostgreSQL at TEST_PG_URL
# (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres; its tests skip when it is down, fail in CI).
test: setup
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check service tests benchmarks
	$(BIN)/ruff format --check service tests benchmarks
	$(BIN)/mypy

bench-smoke: setup
	$(BIN)/python benchmarks/run.py --smoke
	$(BIN)/python benchmarks/checker_cpu.py --set engine --runs 1

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
