"""Monte Carlo studies: specs, the Dask runner, the results store, resume, report.

    from asyncconv.study import load_spec, run_study, open_results, report
    spec = load_spec("sims/quickstart.toml")
    run_study(spec, "results/quickstart")          # LocalCluster; scheduler="tcp://..." for a cluster
    res = open_results("results/quickstart")       # pandas summary, xarray trajectories
    rep = report("results/quickstart")             # verdict fractions, quantiles, time-to-ε, comparisons

See ``../shared/DESIGN.md`` §4.4–4.6 and the module docstrings of ``spec``, ``store`` and ``runner``.
"""

from asyncconv.study.report import report
from asyncconv.study.runner import estimate, run_study, study_status
from asyncconv.study.spec import Config, StudySpec, load_spec, parse_spec
from asyncconv.study.store import Results, open_results

__all__ = [
    "Config",
    "Results",
    "StudySpec",
    "estimate",
    "load_spec",
    "open_results",
    "parse_spec",
    "report",
    "run_study",
    "study_status",
]
