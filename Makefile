# asyncconv: every target creates .venv and installs what it needs on first use.
# torch is pinned to the local CPU wheel through constraints.txt (an unpinned torch pulls CUDA).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    ?= results/demo
PYTEST := $(BIN)/python -m pytest

.PHONY: demo schedules figures test test-slow test-all bench gpu-check gpu-check-rehearsal lint format install clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev,torch]"
	touch $(STAMP)

install: $(STAMP)

## The main job: a short Monte Carlo study (sims/quickstart.toml, about 1-2 minutes on 2 cores):
## synchronous vs asynchronous, random vs periodic schedules on the blockwise-critical trap, with
## its report (text and JSON) and figures. Re-running it finds the study complete and only redraws.
STUDY ?= sims/quickstart.toml
STUDY_OUT ?= results/quickstart
demo: $(STAMP)
	$(BIN)/asyncconv study run $(STUDY) -o $(STUDY_OUT)
	$(BIN)/asyncconv study report $(STUDY_OUT) --json > $(STUDY_OUT)/report.json
	$(BIN)/asyncconv study report $(STUDY_OUT) | tee $(STUDY_OUT)/report.txt
	$(BIN)/asyncconv plot $(STUDY_OUT) -o $(STUDY_OUT)/figures
	@echo "results, report.txt/report.json and figures/ are in $(STUDY_OUT)/"

## Schedules only: draw realistic and control schedules, print their statistics, plot them.
schedules: $(STAMP)
	$(BIN)/asyncconv schedule draw --model sims/schedules/passm_exponential.toml -n 1000000 --seed 1 -o $(OUT)/passm_exponential.npz
	$(BIN)/asyncconv schedule plot $(OUT)/passm_exponential.npz -o $(OUT)/passm_exponential.png
	$(BIN)/asyncconv schedule draw --model sims/schedules/hogwild_torn.toml -n 1000000 --seed 1 -o $(OUT)/hogwild_torn.npz
	$(BIN)/asyncconv schedule plot $(OUT)/hogwild_torn.npz -o $(OUT)/hogwild_torn.png
	$(BIN)/asyncconv schedule draw --model sims/schedules/pareto_delays.toml -n 1000000 --seed 1 -o $(OUT)/pareto_delays.npz
	$(BIN)/asyncconv schedule plot $(OUT)/pareto_delays.npz -o $(OUT)/pareto_delays.png
	$(BIN)/asyncconv schedule draw --model sims/schedules/round_robin.toml -n 100000 --seed 1 -o $(OUT)/round_robin.npz
	@echo "schedules, statistics and figures are in $(OUT)/"

## The paper's figures and tables from the shipped specs (sims/paper/): SCALE=quick (default, well
## under 30 minutes on 2 cores) or SCALE=full. Studies already finished are not rerun.
SCALE ?= quick
PAPER_RESULTS := results/paper/$(SCALE)
figures: $(STAMP)
	@for f in sims/paper/fig*.toml; do n=$$(basename $$f .toml); echo "study $$n ($(SCALE))"; \
	  $(BIN)/asyncconv study run $$f --scale $(SCALE) -o $(PAPER_RESULTS)/$$n -q || exit 1; done
	$(BIN)/python analysis/run_training.py sims/paper/training.toml --scale $(SCALE) -o $(PAPER_RESULTS)/training
	@for s in paper_figures/fig*.py; do $(BIN)/python $$s --results $(PAPER_RESULTS) || exit 1; done
	$(BIN)/python analysis/verdict_tables.py --results $(PAPER_RESULTS)
	$(BIN)/python analysis/training_table.py --results $(PAPER_RESULTS)
	@echo "figures in paper_figures/out/$(SCALE)/, tables in analysis/out/$(SCALE)/"

## The default test run (everything but slow tests and benchmarks).
test: $(STAMP)
	$(PYTEST) -m "not slow and not bench" -q

test-slow: $(STAMP)
	$(PYTEST) -m "slow" -q || [ $$? -eq 5 ]  # 5: no slow tests selected

test-all: $(STAMP)
	$(PYTEST) -m "not bench" -q

## Benchmarks: cold start (empty Numba cache), per-write speed against the first phase's kernel,
## speed of the kernels, reported as rates and ratios (not part of any test run).
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_coldstart.py
	$(BIN)/python benchmarks/bench_dispatch.py
	$(BIN)/python benchmarks/bench_schedule.py
	$(BIN)/asyncconv bench
	$(BIN)/python benchmarks/bench_study.py
	$(BIN)/python benchmarks/bench_torch.py

## The GPU check (torch's CUDA path: pytest -m gpu, CUDA replay against CPU and Numba, ResNet-20
## with every method), for a GPU machine (benchmarks/gpu_check.sh); the rehearsal runs it on the CPU.
gpu-check:
	benchmarks/gpu_check.sh

gpu-check-rehearsal: $(STAMP)
	DEVICE=cpu SCALE=rehearsal OUT=results/gpu_check_rehearsal PYTHON=$(BIN)/python benchmarks/gpu_check.sh

lint: $(STAMP)
	$(BIN)/ruff check asyncconv tests benchmarks paper_figures analysis
	$(BIN)/ruff format --check asyncconv tests benchmarks paper_figures analysis

format: $(STAMP)
	$(BIN)/ruff format asyncconv tests benchmarks paper_figures analysis
	$(BIN)/ruff check --fix asyncconv tests benchmarks paper_figures analysis

clean:
	rm -rf $(VENV) results .pytest_cache .hypothesis
