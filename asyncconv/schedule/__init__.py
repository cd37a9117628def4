"""The probabilistic scheduler model: draw, store, inspect and check asynchronous schedules.

Public API::

    model = ScheduleModel.from_toml("sims/schedules/passm_exponential.toml")
    sched = draw_schedule(model, n_events=100_000, seed=1)
    sched.validate(); sched.save("s.npz"); load_schedule("s.npz").stats()

See ``../shared/DESIGN.md`` §4.1–4.2 and ``reference/model.md`` §3.
"""

from asyncconv.schedule.blocks import ALL_OWNED, Blocks, partition
from asyncconv.schedule.draw import draw_schedule
from asyncconv.schedule.laws import DelayLaw, TimeLaw
from asyncconv.schedule.model import (
    AbstractModel,
    PeriodicModel,
    ScheduleModel,
    TimingModel,
    TraceModel,
)
from asyncconv.schedule.schedule import (
    Schedule,
    ScheduleError,
    load_schedule,
    load_trace_csv,
    schedule_from_trace,
)

__all__ = [
    "ALL_OWNED",
    "AbstractModel",
    "Blocks",
    "DelayLaw",
    "PeriodicModel",
    "Schedule",
    "ScheduleError",
    "ScheduleModel",
    "TimeLaw",
    "TimingModel",
    "TraceModel",
    "draw_schedule",
    "load_schedule",
    "load_trace_csv",
    "partition",
    "schedule_from_trace",
]
