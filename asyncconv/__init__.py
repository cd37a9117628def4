"""asyncconv: asynchronous block stochastic subgradient methods with momentum, run, tested and plotted.

Reference: Kungurtsev, Egan, Chatterjee, Alistarh, "Asynchronous Optimization Methods for Efficient
Training of Deep Neural Networks with Guarantees", AAAI 2021, arXiv 1905.11845.
"""

__version__ = "0.1.0"
