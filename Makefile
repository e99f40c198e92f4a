# The two commands of photostream (see README):
#   make demo   bootstrap, start the local stack, run the pipeline demo
#   make test   bootstrap, run the whole test suite against the real stack, then lint
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := producers processors sinks schemas infra operate api bench tests

.PHONY: bootstrap demo test test-cluster lint stack-down

bootstrap:
	@operate/bootstrap.sh

demo: bootstrap
	$(BIN)/photostream stack up --timings
	$(BIN)/photostream demo

test: bootstrap
	$(BIN)/pytest
	$(MAKE) --no-print-directory lint

# The cluster tests kill nodes, so they get their own cluster (not the dev stack), started
# and stopped here under the shared lock: 3 brokers, 3 Cassandra nodes, 6 Redis nodes.
test-cluster: bootstrap
	flock /tmp/photostream-heavy.lock sh -c '$(BIN)/photostream stack up --cluster && \
	  PHOTOSTREAM_CLUSTER_TESTS=1 $(BIN)/pytest tests/cluster -s; \
	  rc=$$?; $(BIN)/photostream stack down --cluster; exit $$rc'

lint:
	$(BIN)/ruff check .
	$(BIN)/mypy $(PACKAGES)

stack-down:
	$(BIN)/photostream stack down
