# Two commands set everything up on a fresh machine:
#   make demo   create .venv, install partdistill, run the offline end-to-end demo
#   make test   create .venv, install partdistill with its test tools, run the tests
# Installs are skipped when pyproject.toml has not changed since the last one.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-out

.PHONY: demo test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/pd synth --category chair --n 24 --generator procedural --out $(DEMO_DIR)/chairs
	$(BIN)/pd teach --shapes $(DEMO_DIR)/chairs --teacher simulated --noise noisy --image-size 400 --sheets 4
	@echo "Demo output: $(DEMO_DIR)/chairs (shapes, knowledge units, contact sheets in knowledge/*/sheets)"

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check partdistill tests benchmarks
	$(BIN)/ruff format --check partdistill tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO_DIR)
