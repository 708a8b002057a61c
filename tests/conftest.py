"""Shared pytest setup: no network, headless plotting, seeded RNGs (the seed comes from LADD_NB_SEED, default
0)."""

import os

# Set before anything imports datasets / huggingface_hub / matplotlib.
os.environ['HF_HUB_OFFLINE'] = '1'
os.environ['HF_DATASETS_OFFLINE'] = '1'
os.environ['MPLBACKEND'] = 'Agg'

import pytest

from ladd_nb.core import env_seed, make_generator, seed_everything

# NB: never `from fastcore.test import *` in tests/: pytest would collect `test_eq` etc. as tests.
# Use `import fastcore.test as fct` and call `fct.test_eq(...)`.

SEED = env_seed()  # tools/flake_check.py runs the suite under several values of LADD_NB_SEED


@pytest.fixture(autouse=True)
def _seed_everything():
    "Seed Python, NumPy and torch before every test, so results do not depend on test order."
    seed_everything(SEED)
    yield


@pytest.fixture
def seed() -> int:
    "This run's seed: derive every generator whose draws feed an assertion from it."
    return SEED


@pytest.fixture
def gen():
    "A private torch generator seeded with this run's seed."
    return make_generator(SEED)
