# Two entry points, both idempotent: `make demo` and `make test` create .venv on first use and
# reuse it afterwards (reinstalling only when pyproject.toml changes).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo-data
DEMO_CUSTOMERS ?= 10000
CHURN := PREDICT COUNT(transactions.*, 0, 30, days) = 0 FOR EACH customers.customer_id WHERE COUNT(transactions.*, -90, 0, days) > 0

.PHONY: setup demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/relpredict demo-data $(DEMO_DIR) --customers $(DEMO_CUSTOMERS) --seed 0
	$(BIN)/relpredict graph inspect $(DEMO_DIR)/graph.yaml
	$(BIN)/relpredict query check "$(CHURN)" --graph $(DEMO_DIR)/graph.yaml
	$(BIN)/relpredict train --graph $(DEMO_DIR)/graph.yaml --query "$(CHURN)" --name churn
	$(BIN)/relpredict workflow show churn-batch >/dev/null 2>&1 || $(BIN)/relpredict workflow create churn-batch --model churn
	$(BIN)/relpredict job run churn-batch --workers 2 --output-types predictions,embeddings --output $(DEMO_DIR)/out/churn.parquet

test: setup lint
	$(BIN)/python -m pytest -q

# The fast tier (under 2 minutes): everything but the tests marked slow (training, job runs with
# worker processes, emulator servers, the browser, F1). CI runs `make test`, i.e. everything.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

# ruff, then mypy on src/relpredict (its settings are in pyproject.toml)
lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(DEMO_DIR) .relpredict .pytest_cache
