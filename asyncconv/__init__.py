"""asyncconv: asynchronous block stochastic subgradient methods with momentum, run, tested and plotted.

Reference: Kungurtsev, Egan, Chatterjee, Alistarh, "Asynchronous Optimization Methods for Efficient
Training of Deep Neural Networks with Guarantees", AAAI 2021, arXiv 1905.11845.
"""

# First, before any kernel module is imported: point Numba's on-disk cache at a folder keyed by
# the hash of the kernel sources, so that it can never serve code older than a source (_jit).
from asyncconv import _jit  # noqa: F401  (imported for its effect)

__version__ = "0.1.0"
