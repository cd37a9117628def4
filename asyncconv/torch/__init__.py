"""The torch backend: schedule replay on ``nn.Module``\\ s and real asynchronous training.

Two halves (DESIGN §3, ``reference/model.md`` §6):

* :mod:`asyncconv.torch.replay` — a :class:`~asyncconv.schedule.Schedule` drives training of any
  module: parameters split into blocks (:mod:`asyncconv.torch.blocks`), delayed and torn reads
  rebuilt from per-block version history, the iteration variants of ``model.md`` §4, the
  minibatch of write k a pure function of (seed, k) (:mod:`asyncconv.torch.counter`). In float64 it
  reproduces the Numba simulation on the problems written in both backends
  (:mod:`asyncconv.torch.problems`).
* :mod:`asyncconv.torch.train` — one model in shared memory, P processes: PASSM, PASSM+, ASSM,
  Hogwild, and the baselines sgd and ddp; each run records its real schedule
  (:mod:`asyncconv.torch.trace`).

Importing this package does not import torch (the CLI registers ``asyncconv train`` cheaply);
the submodules do.
"""
