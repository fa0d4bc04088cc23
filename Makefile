# The whole quick start: `make demo` and `make test`. Both create .venv when needed and
# reinstall only when pyproject.toml or requirements.txt changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SEQRNN_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export SEQRNN_DATA
# Python may cache compiled modules (pytest its rewritten test modules too): an environment that
# turns that off makes every test process compile the package and the tests again
unexport PYTHONDONTWRITEBYTECODE
DEMO_DIR ?= demo-out

.PHONY: install demo test test-fast docs screenshot clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --no-compile --disable-pip-version-check -r requirements.txt
	@# the modules every process of the suite imports, compiled once here instead of in each at once
	$(BIN)/python -c "import torch, sklearn.linear_model, pandas, matplotlib.figure, fastapi, pytest, hypothesis, \
	  seqrnn.cli.main, seqrnn.tasks.classifier, seqrnn.tasks.forecast, seqrnn.tasks.series, seqrnn.serve.app"
	touch $@

# Tests run side by side, each process with its own threads: an OpenMP thread waiting for work
# sleeps instead of spinning on a core another process needs (a third of the suite's CPU time)
test test-fast screenshot: export OMP_WAIT_POLICY = PASSIVE

# the whole suite on both cores (pytest-xdist): the tests that start no process of their own, then
# those that start processes and servers (marked slow), the longest first (one session of both
# packs the two workers worse: 6 min 44 s of tests against 5 min in two)
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow"
	$(BIN)/python -m pytest -q -n 2 -m slow --durations=10

# everything but the tests that start a process or a server (marked slow): for quick checks while editing
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -n 2

# refresh docs/serve.png: the page of `seqrnn serve` in use, drawn by headless Chromium
screenshot: $(STAMP)
	SEQRNN_SCREENSHOT=$(abspath docs/serve.png) $(BIN)/python -m pytest -q tests/test_browser.py -k screenshot

# the documentation site (MkDocs + mkdocstrings) into site/; any warning fails the build
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d site

# The main job on the shared data: look at both datasets, train both models briefly, use them.
demo: $(STAMP)
	$(BIN)/seqrnn data inspect imdb
	$(BIN)/seqrnn data inspect hamlet
	rm -rf $(DEMO_DIR)
	$(BIN)/seqrnn charlm train --text hamlet --out $(DEMO_DIR)/hamlet --max-minutes 2
	$(BIN)/seqrnn charlm sample --model $(DEMO_DIR)/hamlet --length 300 --start "The " --seed 1
	$(BIN)/seqrnn classify train --data imdb --out $(DEMO_DIR)/imdb --max-minutes 3
	$(BIN)/seqrnn classify predict --model $(DEMO_DIR)/imdb \
	  "One of the best films I have seen in years: moving, funny and beautifully acted." \
	  "A dull, lifeless mess. The plot makes no sense and I wanted my two hours back."

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache site
