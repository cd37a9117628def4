"""Plotting primitives used by the CLI and by paper_figures."""
