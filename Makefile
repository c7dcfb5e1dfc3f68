# winnow — two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
SAMPLE := data/sample

.PHONY: demo test venv sample clean bench

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m compileall -q src  # bytecode, as a regular pip install writes it (imports ~0.2 s faster)
	$(BIN)/python -m winnow.core.text.kernels  # compile the numba kernels once, into their cache
	rm -f $(VENV)/.installed-*; touch $(STAMP)

venv: $(STAMP)

$(SAMPLE)/manifest.json: $(STAMP)
	$(BIN)/winnow datasets build sample --out $(SAMPLE)

sample: $(SAMPLE)/manifest.json

## demo: the whole loop on the real sample corpus: curate → select → prove → report → mix → export → train
demo: sample
	$(BIN)/winnow run examples/demo.yaml --overwrite
	$(BIN)/winnow bench examples/demo_bench.yaml
	$(BIN)/winnow report runs/demo
	$(BIN)/winnow report runs/demo_bench
	$(BIN)/winnow select --pool runs/demo/data --method topk --param column=fineweb_line_punct_ratio --budget 75% -o runs/demo_selected
	$(BIN)/winnow export runs/demo_selected runs/demo_tokens --mix examples/demo_mix.json --seq-len 256 --val-fraction 0.05 --workers 2 --overwrite
	$(BIN)/python -m winnow.deliver.export.train_check runs/demo_tokens
	@echo "open runs/demo/report.html (curation funnel) and runs/demo_bench/report.html (selection vs random)"

## test: install, lint (ruff) and run the test suite and every docstring example (slow tests run in a small version)
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --doctest-modules src tests

clean:
	rm -rf runs data/sample .pytest_cache
