# Two commands from a fresh clone (Python >= 3.10 on PATH as python3):
#   make demo   install into .venv, then run the main job (prepare data, train, evaluate, report)
#   make test   install into .venv, then ruff, the whole test suite and every notebook (nbval, fast profile),
#               then in JupyterLab in Chromium every notebook's stored outputs, the widget notebooks run,
#               and the Voila apps (make browser-test)
# and, while editing, make test-fast: ruff and the tests not marked slow or browser (about a minute)
# and, for a classroom, make app: a notebook's widgets as a web page (Voila)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# make demo needs the library alone; make test, browser-test and app the lab and dev extras too (pyproject.toml)
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test test-fast browser-test app install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

install: $(DEV_STAMP)

demo: $(STAMP)
	$(BIN)/gconet-lab demo

test: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest --ignore=tests/browser
	# one torch thread per kernel: on 2 shared cores, 2 spinning OpenMP threads per process are far slower
	OMP_NUM_THREADS=1 GCONET_LAB_FAST=1 GCONET_LAB_NATIVE_BF16=0 $(BIN)/python -m pytest --nbval notebooks --durations=0 -p no:cacheprovider
	$(MAKE) browser-test

# The fast tier, for checking an edit (about a minute on 2 cores): ruff and the tests not marked slow or
# browser, each failed after 60 s. make test stays the whole suite CI runs.
test-fast: $(DEV_STAMP)
	$(BIN)/ruff check .
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest --ignore=tests/browser -m "not slow and not browser" --timeout=60 -q -p no:cacheprovider

# The notebooks in JupyterLab in Chromium (tests/browser, screenshots in outputs/browser/); skipped
# with one line when no Chromium is found (apt-get install chromium), never under CI.
browser-test: $(DEV_STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest tests/browser -m browser --durations=0 -p no:cacheprovider

# A classroom app: a notebook run by Voila and shown as a web page, code hidden (http://localhost:8866).
# APP=12_decoder_feature_maps for the decoder-feature browser; the default is the failure-case browser.
APP ?= 14_failure_cases
app: $(DEV_STAMP)
	GCONET_LAB_FAST=1 $(BIN)/voila notebooks/$(APP).ipynb

clean:
	rm -rf outputs runs .pytest_cache
