"""Shared fixtures. Numba kernels are cached on disk, so the first test run compiles them once."""

from __future__ import annotations

import os

# Tests must not depend on a display or on thread counts chosen by the machine.
os.environ.setdefault("MPLBACKEND", "Agg")
