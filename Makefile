# cellwak set-up. The two commands in README:
#   make demo   set up .venv (torch first, pinned), R from apt when missing, run the demo clustering
#   make test   the same set-up, then the test suite: the fast tests, then the slow ones with the reliability
#               suite, each run on every core (pytest-xdist). Slow and reliability together on 2 workers: 656 s,
#               against 636 + 385 s one after the other in one process each (the slow tests alone gained
#               nothing on 2 workers, since they already use both cores; the reliability suite mostly
#               waits on the processes it starts and kills). --dist loadgroup keeps the tests of one
#               xdist_group (the dashboard snapshots, whose workspace has a fixed path) on one worker.
# Both are idempotent: a second run only re-checks.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cellwak-installed
TORCH  := torch==2.13.0
R_APT  := r-base-core r-base-dev r-cran-ggplot2 r-bioc-complexheatmap r-cran-igraph r-cran-uwot \
          r-cran-jsonlite r-cran-ragg r-cran-circlize r-cran-data.table r-cran-svglite r-cran-ggrepel

.PHONY: demo test setup r rpy2 julia tools bench clean

demo: setup
	$(BIN)/cellwak cluster --gamma 1.0

test: setup
	$(BIN)/python -m pytest -n auto --dist loadgroup
	$(BIN)/python -m pytest -n auto --dist loadgroup -m "(slow or reliability) and not gpu and not (slow and reliability)"
	@if [ -x .cache/julia/bin/julia ]; then .cache/julia/bin/julia --startup-file=no julia/test/runtests.jl; \
	  else echo "Julia not available: julia/test/runtests.jl skipped"; fi

setup: $(STAMP) r rpy2 julia tools

# tmux (optional): the dashboard's real-terminal test runs `cellwak tui` inside it (skipped without it).
tools:
	@if command -v tmux >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "tmux: installing from apt"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tmux >/dev/null) \
	    || echo "tmux could not be installed: the dashboard's terminal test will be skipped"; \
	else \
	  echo "tmux is not installed (optional, for the dashboard's terminal test): sudo apt-get install -y tmux"; \
	fi

# Python: torch is installed first and pinned, so no dependency can pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

# R (optional; plots and STRING analysis): from Debian's packages, never from CRAN.
# Every package of R_APT is checked (dpkg), so an R installed before a package was added gets it too.
r:
	@if command -v Rscript >/dev/null 2>&1 && { ! command -v dpkg >/dev/null 2>&1 || dpkg -s $(R_APT) >/dev/null 2>&1; }; then \
	  echo "R: $$(Rscript --version 2>&1 | head -n1)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "R: installing R and its packages from apt"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(R_APT) >/dev/null; \
	else \
	  echo "R or some of its packages are not installed (optional). To install them: sudo apt-get install -y --no-install-recommends $(R_APT)"; \
	fi

# rpy2 must be 3.5.17 for Debian's R 4.2 (newer rpy2 fails to import: undefined symbol R_getVar).
rpy2: $(STAMP)
	@if command -v Rscript >/dev/null 2>&1 && ! $(BIN)/python -c "import rpy2" 2>/dev/null; then \
	  $(BIN)/python -m pip install -q -e ".[r]"; fi

# Julia (optional; the CellWAK.jl kernels): Debian bullseye's julia 1.5.3 unpacked into .cache/julia.
julia:
	@if [ -f julia/install_julia.sh ]; then bash julia/install_julia.sh || echo "Julia unavailable: its tests will be skipped"; fi

bench: setup
	cd benchmarks && ../$(BIN)/python bench_read_csv.py

clean:
	rm -rf $(VENV) .cache build dist *.egg-info
