# The two commands a newcomer needs (both create/refresh .venv):
#   make demo   - run the main job end-to-end on the embedded defaults
#   make test   - run the test suite
SHELL := /bin/bash
VENV := .venv
DATA_DIR ?= $(or $(REASONREC_DATA_DIR),../shared/data)
OUT ?= runs/demo

.PHONY: venv demo test bench lint

venv:
	@bash scripts/bootstrap.sh

demo: venv
	$(VENV)/bin/reasonrec demo --data-dir $(DATA_DIR) --out $(OUT)

test: venv
	@bash scripts/test.sh

bench: venv
	@bash scripts/bench.sh

lint: venv
	$(VENV)/bin/ruff check src tests bench
