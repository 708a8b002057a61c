"Shared pytest setup: no network, headless plotting, seeded RNGs."
import os

# Set before anything imports datasets / huggingface_hub / matplotlib.
os.environ['HF_HUB_OFFLINE'] = '1'
os.environ['HF_DATASETS_OFFLINE'] = '1'
os.environ['MPLBACKEND'] = 'Agg'

import random

import numpy as np
import pytest
import torch

# NB: never `from fastcore.test import *` in tests/: pytest would collect `test_eq` etc. as tests.
# Use `import fastcore.test as fct` and call `fct.test_eq(...)`.

SEED = 42

@pytest.fixture(autouse=True)
def _seed_everything():
    "Seed Python, NumPy and torch before every test, so results do not depend on test order."
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    yield
