# ladd_nb developer tasks.
#
#   make venv       create .venv and install torch + the project with its dev extra
#   make demo       run the CLI demo, writing into $(OUT)
#   make test       sync checks, README check, notebook tests, then pytest (last)
#   make clean-nbs  nbdev-clean then nbdev-export (run before committing notebooks)
#
# Works in a fresh clone on a machine with only Python 3.11+ and pip.

PYTHON ?= python3
# The torch requirement installed before the project. Override it for another build, e.g. the CPU wheel:
#   make venv TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
OUT ?= demo_out

VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: venv demo test clean-nbs

# ---- environment ------------------------------------------------------------------------------------------------
# The stamp file is rebuilt whenever pyproject.toml changes.
venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install $(TORCH_SPEC)
	$(PIP) install -e '.[dev]'
	touch $@

# ---- demo -------------------------------------------------------------------------------------------------------
demo: venv
	$(BIN)/ladd-nb demo --out $(OUT)

# ---- tests ------------------------------------------------------------------------------------------------------
# No network in tests: Hugging Face offline mode, headless matplotlib.
test: export HF_HUB_OFFLINE := 1
test: export HF_DATASETS_OFFLINE := 1
test: export MPLBACKEND := Agg
test: export VIRTUAL_ENV := $(abspath $(VENV))
test: venv
# 1. notebooks clean (nbdev-clean) and library in sync (nbdev-export), checked in a temporary copy
	$(BIN)/python tools/check_sync.py
# 2. README.md rendered from nbs/index.ipynb is up to date
	$(BIN)/python tools/readme.py --check
# 3. notebook tests: 2 notebooks in parallel, one thread each; cells flagged notest/slow/gpu/net are skipped
	OMP_NUM_THREADS=1 $(BIN)/nbdev-test --n-workers 2 --timing
# 4. pytest last, so that its summary line ends the log
	$(BIN)/python -m pytest -q

# ---- notebooks --------------------------------------------------------------------------------------------------
clean-nbs: venv
	$(BIN)/nbdev-clean
	$(BIN)/nbdev-export
