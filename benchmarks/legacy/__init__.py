"""The first phase's replay kernel, frozen (commit 7ca3fb7): integer dispatch over all problems,
inlined into the replay. Kept only so that ``benchmarks/bench_dispatch.py`` can time today's
per-problem kernels against it in one run. Not part of the package; never edit."""
