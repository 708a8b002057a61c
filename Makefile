# ladd_nb developer tasks.
#
#   make venv       create .venv and install torch + the project with its dev extra
#   make demo       run the CLI demo, writing into $(OUT)
#   make docs       the book as a website in _docs/: stored outputs, no execution, no Quarto (tools/docs.py)
#   make test       sync checks, README and stored-output checks, the linter, notebook tests, then pytest (last)
#   make format     lay the code out with ruff (notebooks, tests, tools, benchmarks), then nbdev-clean and export
#   make flake      the flake check: every notebook and pytest under several seeds (SEEDS="0 1 2 3 4")
#   make clean-nbs  nbdev-clean then nbdev-export (run before committing notebooks)
#
# Works in a fresh clone on a machine with only Python 3.11+ and pip.

PYTHON ?= python3
# The torch requirement installed before the project. Override it for another build, e.g. the CPU wheel:
#   make venv TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
OUT ?= demo_out
SEEDS ?= 0 1 2 3 4

VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: venv demo docs test flake clean-nbs format

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

# ---- docs -------------------------------------------------------------------------------------------------------
# The notebooks with their stored outputs (nothing is executed) rendered into a static site in _docs/, in the order
# of nbs/sidebar.yml, equations as MathML: no Quarto and no network needed. Open _docs/index.html. Where Quarto is
# installed, nbdev-docs still builds nbdev's own site; `tools/docs.py --check-quarto` checks its sidebar.
docs: export HF_HUB_OFFLINE := 1
docs: export HF_DATASETS_OFFLINE := 1
docs: export MPLBACKEND := Agg
docs: venv
	$(BIN)/python tools/docs.py

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
# 3. stored outputs and README show no machine paths, progress bars, warnings or bare object reprs
	$(BIN)/python tools/check_outputs.py
# 4. the linter: at most 110 characters a line, one statement per line (notebooks, tests, tools, benchmarks);
#    the layers: no import cycle, no module importing a higher layer (function-level imports included)
	$(BIN)/ruff check .
	$(BIN)/python tools/import_graph.py --check
# 5. teaching-size chapters: median code cell <= 5 lines, none over 40, one symbol per exported cell, a figure in
#    every chapter, 12 exercises or more (tools/book_stats.py prints the table per chapter)
	$(BIN)/python tools/book_stats.py --check
# 6. notebook tests: 2 notebooks in parallel, one thread each; cells flagged notest/slow/gpu/net are skipped
	OMP_NUM_THREADS=1 $(BIN)/nbdev-test --n-workers 2 --timing
# 7. pytest last, so that its summary line ends the log; -v names every test, -rs says why a test was skipped
	$(BIN)/python -m pytest -v -rs

# ---- flake check ------------------------------------------------------------------------------------------------
# Every notebook and the pytest suite once per seed in SEEDS (LADD_NB_SEED), in fresh processes: a table of
# notebook x seed -> pass/fail and time. Run it before stopping on anything that changed tests or models.
flake: export HF_HUB_OFFLINE := 1
flake: export HF_DATASETS_OFFLINE := 1
flake: export MPLBACKEND := Agg
flake: export VIRTUAL_ENV := $(abspath $(VENV))
flake: venv
	$(BIN)/python tools/flake_check.py --seeds $(SEEDS)

# ---- notebooks --------------------------------------------------------------------------------------------------
clean-nbs: venv
	$(BIN)/nbdev-clean
	$(BIN)/nbdev-export

# ---- layout -----------------------------------------------------------------------------------------------------
format: venv
	$(BIN)/ruff format nbs tests tools bench
	$(BIN)/nbdev-clean
	$(BIN)/nbdev-export
