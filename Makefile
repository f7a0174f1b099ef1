# Two commands on a fresh machine:  make demo  (everything end to end on the sample data)  and  make test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-v3
DEMO := demo
# torch 2.14.1 and torchvision 0.29.1 lie on this machine's disk (pip installs them without a download);
# setup.cfg accepts any torch >= 2.1 for users elsewhere.
TORCH := torch==2.14.1 torchvision==0.29.1

.PHONY: install demo test test-fast benchmarks mutation mutation-named clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[all,test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/benchmark data fetch
	$(BIN)/maskgen build --preset sample --out $(DEMO)/masks --workers 2
	$(BIN)/maskgen sheet $(DEMO)/masks/test --out $(DEMO)
	$(BIN)/maskgen stats $(DEMO)/masks/test
	$(BIN)/benchmark run --methods pconv,conv,patchmatch,telea,ns,biharmonic,mean --masks $(DEMO)/masks \
		--out $(DEMO)/results --workers 2
	$(BIN)/benchmark table $(DEMO)/results --format csv --out $(DEMO)/table1.csv
	$(BIN)/benchmark table $(DEMO)/results --format latex --with-paper --out $(DEMO)/table1.tex
	$(BIN)/benchmark table $(DEMO)/results --format markdown --out $(DEMO)/table1.md
	$(BIN)/benchmark timing $(DEMO)/results
	$(BIN)/benchmark grid $(DEMO)/results --methods pconv,conv,patchmatch,telea,ns --out $(DEMO)/grid.png
	$(BIN)/benchmark report $(DEMO)/results --out $(DEMO)/report
	$(BIN)/pconv export-onnx  # the bundled model's ONNX graph, cached: `pconv inpaint` then starts in under a second
	@cat $(DEMO)/table1.md
	@echo "written: $(DEMO)/table1.{md,csv,tex}, $(DEMO)/grid.png, $(DEMO)/report/index.html, $(DEMO)/sheet_N.png, $(DEMO)/sheet_B.png"

test: $(STAMP)  # lint and format checks, then the whole suite (doctests included): what CI runs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)  # lint, then every test not marked slow (networks, wheels, subprocesses)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow"

mutation: $(STAMP)  # cosmic-ray over the core modules on a scratch copy (hours on 2 cores; resumes): docs/mutation.md
	$(BIN)/python -m pip install -q -e '.[mutation]'
	$(BIN)/python tools/mutation/run_mutation.py $(MODULES)

mutation-named: $(STAMP)  # the plausible bugs that once passed every test, each put back in a scratch copy: all must fail
	$(BIN)/python tools/mutation/named_mutations.py

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/bench_partialconv.py
	$(BIN)/python benchmarks/bench_maskgen.py
	PATH=$(BIN):$$PATH $(BIN)/python benchmarks/bench_inpaint.py
	@if $(BIN)/python -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then \
		$(BIN)/python benchmarks/bench_gpu.py; else echo "no CUDA device: benchmarks/bench_gpu.py not run"; fi

clean:
	rm -rf $(VENV) $(DEMO) results masks
