"""asyncconv: asynchronous block stochastic subgradient methods with momentum, run, tested and plotted.

Reference: Kungurtsev, Egan, Chatterjee, Alistarh, "Asynchronous Optimization Methods for Efficient
Training of Deep Neural Networks with Guarantees", AAAI 2021, arXiv 1905.11845.
"""

# Numba's on-disk cache is pointed at a folder keyed by the hash of the kernel sources when
# asyncconv._jit is first imported, which every module with jitted code does (for its ``jit``)
# before its first decorator runs. Not imported here: torch's worker processes import the package
# without needing Numba.

__version__ = "0.1.0"
