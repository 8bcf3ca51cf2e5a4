# Two commands set everything up on a fresh machine:
#   make demo   create .venv, install partdistill, run the offline end-to-end demo
#   make test   create .venv, install partdistill with its test tools, run the tests
# Installs are skipped when pyproject.toml has not changed since the last one.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo-out

.PHONY: demo test browser lint gpu-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'
	touch $@ $(VENV)/.installed

# The offline chain: procedural chairs -> simulated noisy teacher -> student -> predictions, and at
# the end the student against direct lifting of the teacher's units on held-out chairs.
demo: $(VENV)/.installed
	$(BIN)/pd synth --category chair --n 64 --out $(DEMO_DIR)/train
	$(BIN)/pd synth --category chair --n 16 --seed 1 --out $(DEMO_DIR)/held-out
	$(BIN)/pd teach --shapes $(DEMO_DIR)/train --image-size 400 --sheets 4
	$(BIN)/pd teach --shapes $(DEMO_DIR)/held-out --image-size 400 --sheets 4
	$(BIN)/pd distill --shapes $(DEMO_DIR)/train --image-size 400 --epochs 25 --out $(DEMO_DIR)/run \
		$(if $(wildcard $(DEMO_DIR)/run/config.json),--resume)
	$(BIN)/pd predict $(DEMO_DIR)/held-out/shapes/chair-s1-00000.npz $(DEMO_DIR)/held-out/shapes/chair-s1-00001.npz \
		--run $(DEMO_DIR)/run --out $(DEMO_DIR)/predictions
	$(BIN)/pd eval --dataset collection --root $(DEMO_DIR)/held-out --run $(DEMO_DIR)/run --out $(DEMO_DIR)/eval
	@echo "Demo output in $(DEMO_DIR)/: contact sheets in */knowledge/*/sheets, run/curve.png, predictions/*.png, eval/gallery.png"

# pd view's pages are tested in Debian's chromium, installed here where apt-get can (as root);
# elsewhere those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) || \
	  echo "chromium is not installed (needs apt-get as root): the browser tests will be skipped"

test: $(VENV)/.installed-dev browser
	$(BIN)/python -m pytest -q

# For contributors with a GPU: the whole chain on CUDA with tiny random models, one line per stage.
gpu-check: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/gpu_check.py --device cuda

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check partdistill tests benchmarks examples
	$(BIN)/ruff format --check partdistill tests benchmarks examples

clean:
	rm -rf $(VENV) $(DEMO_DIR)
