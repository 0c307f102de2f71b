# `make run`: set everything up (Asterisk included) and start the platform with the demo IVR.
# `make test`: the same set-up, then every test. Both work as root on a fresh Debian 12.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export VOICECTL_DATA_DIR ?= /var/lib/voicectl
# The Asterisk rootfs is built once and shared by `make run`, the tests' instances and bench.
export VOICECTL_ASTERISK_ROOTFS ?= $(VOICECTL_DATA_DIR)/rootfs
PYTEST_ARGS ?= -ra
BENCH_ARGS ?=
OVERLOAD_ARGS ?=
RAMP_ARGS ?= --flow trigger
MEASURE_ARGS ?= --flow trigger --runs 1

.PHONY: setup test-deps run test test-compose bench bench-trigger bench-ramp bench-measure bench-overload bench-contacts clean

$(BIN)/voicectl: pyproject.toml
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

setup: $(BIN)/voicectl
	control/assets/asterisk/install.sh $(VOICECTL_ASTERISK_ROOTFS)
	$(BIN)/voicectl init

run: setup
	$(BIN)/voicectl demo
	exec $(BIN)/voicectl up

# The tests also run the platform on a throwaway PostgreSQL cluster (DATABASE_URL).
test-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

test: setup test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The container stack (docker-compose.yml): podman and the rest of its set-up, then a clean
# build, a SIP call through it and a teardown. Minutes: CI runs it as a stage of its own.
test-compose: setup
	containers/setup.sh $(VENV)
	$(BIN)/python -m pytest tests/compose $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The API Branch flow (menu -> trigger answered by a local webhook -> key -> content), same rounds.
bench-trigger: setup
	$(BIN)/python -m bench.run --flow trigger $(BENCH_ARGS)

# Each side's highest rate with 0 failures and answer p95 under 200 ms (RAMP_ARGS="--flow menu" too).
bench-ramp: setup
	$(BIN)/python -m bench.run --ramp $(RAMP_ARGS)

# key -> audio and webhook answer -> audio from ARI event timestamps (its CPU figures are not the bench's).
bench-measure: setup
	$(BIN)/python -m bench.run --measure $(MEASURE_ARGS)

# voicectl contacts import of 10,000 contacts (CONTACTS_ARGS="--rows 50000 --runs 1").
bench-contacts: setup
	$(BIN)/python -m bench.contacts_import $(CONTACTS_ARGS)

bench-overload: setup
	$(BIN)/python -m bench.overload $(OVERLOAD_ARGS)

clean:
	rm -rf $(VENV) *.egg-info
