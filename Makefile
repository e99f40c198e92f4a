# The two commands of photostream (see README):
#   make demo   bootstrap, start the local stack, run the pipeline demo
#   make test   bootstrap, run the whole test suite against the real stack, then lint
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := producers processors sinks schemas infra api bench tests

.PHONY: bootstrap demo test lint stack-down

bootstrap:
	@infra/bootstrap.sh

demo: bootstrap
	$(BIN)/photostream stack up --timings
	$(BIN)/photostream demo

test: bootstrap
	$(BIN)/pytest
	$(MAKE) --no-print-directory lint

lint:
	$(BIN)/ruff check .
	$(BIN)/mypy $(PACKAGES)

stack-down:
	$(BIN)/photostream stack down
