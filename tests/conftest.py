"""Shared fixtures. Numba kernels are cached on disk, so the first test run compiles them once."""

from __future__ import annotations

import os

import pytest

# Tests must not depend on a display or on thread counts chosen by the machine.
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def one_torch_thread():
    """One intra-op torch thread for the test (restored after): on a busy 2-core machine OpenMP
    spin-waiting costs up to 100x (see asyncconv/torch/train.py). Torch tests use it through
    ``pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
