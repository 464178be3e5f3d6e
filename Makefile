# The two commands: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKS := $(wildcard plugins/*/pyproject.toml)
STAMP := $(VENV)/.installed
OUT ?= examples/out

.PHONY: setup run test interop bench docs clean

$(STAMP): pyproject.toml $(PACKS)
	@echo "setting up $(VENV): installing the kernel and every pack with their dependencies (a few minutes, once)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]" $(foreach p,$(PACKS),-e $(dir $(p)))
	touch $(STAMP)
	@echo "$(VENV) is ready"

setup: $(STAMP)

run: setup
	$(BIN)/romanasn plugins
	$(BIN)/romanasn generate examples/pool.ecsv -o $(OUT) --overwrite --skymap examples/skymap.asdf
	@echo "associations written to $(OUT)/ (run report: $(OUT)/romanasn-run.json)"

# puppeteer-core, which drives Debian's Firefox in the report's browser test (skipped, and said so, without npm)
FIREFOX_CHECK := plugins/romanasn-report/tests/firefox
$(FIREFOX_CHECK)/node_modules/.installed: $(FIREFOX_CHECK)/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix $(FIREFOX_CHECK) --no-audit --no-fund --silent && touch $@ \
		|| echo "npm ci failed: the Firefox test of the report will be skipped"; \
	else echo "npm not found: the Firefox test of the report will be skipped"; fi

test: setup $(FIREFOX_CHECK)/node_modules/.installed
	$(BIN)/python -m pytest

# The contract test against the real client: romancal 1.1.0 in its own environment (it pins older
# asdf and roman_datamodels) opens every kind of association we write and resamples two.
ROMANCAL_VENV := .venv-romancal
ROMANCAL ?= romancal==1.1.0
$(ROMANCAL_VENV)/.installed:
	@echo "installing $(ROMANCAL) into $(ROMANCAL_VENV) (a few minutes) ..."
	test -x $(ROMANCAL_VENV)/bin/python || $(PYTHON) -m venv $(ROMANCAL_VENV)
	$(ROMANCAL_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(ROMANCAL_VENV)/bin/python -m pip install --quiet "$(ROMANCAL)"
	touch $@

interop: setup $(ROMANCAL_VENV)/.installed
	$(BIN)/python interop/run_interop.py --romancal $(ROMANCAL_VENV)/bin/python

bench: setup  # BENCH_SKIP_ROMANCAL=1 leaves romancal 1.0.3 out; BENCH_SIZES=10000,100000 picks sizes
	$(BIN)/python benchmarks/bench_mission.py --json benchmarks/results/mission.json

# The documentation: the gallery's pictures, then every page, warnings as errors.
docs: setup
	ROMANASN_GALLERY=docs/_static/gallery $(BIN)/python -m pytest -q plugins/romanasn-report/tests/test_report_browser.py
	$(BIN)/python docs/gallery.py
	$(BIN)/sphinx-build -E -W --keep-going -b html docs docs/_build/html
	@echo "documentation written to docs/_build/html/index.html"

clean:
	rm -rf $(VENV) $(ROMANCAL_VENV) $(OUT) $(FIREFOX_CHECK)/node_modules .pytest_cache docs/_build
