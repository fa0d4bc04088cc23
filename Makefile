# The whole quick start: `make demo` and `make test`. Both create .venv when needed and
# reinstall only when pyproject.toml or requirements.txt changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SEQRNN_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export SEQRNN_DATA
DEMO_DIR ?= demo-out

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/seqrnn data inspect imdb
	$(BIN)/seqrnn data inspect hamlet

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
