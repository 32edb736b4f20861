# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint format demo migrate bench clean

$(VENV)/.run-installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.test-installed: $(VENV)/.run-installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.run-installed  ## install, migrate, run the bot (needs TELEGRAM_BOT_TOKEN)
	$(PY) bot.py run

migrate: $(VENV)/.run-installed
	$(PY) bot.py migrate

demo: $(VENV)/.run-installed  ## a scripted session against the local stand-in, no token needed
	$(PY) bot.py demo --kb examples/kb

# The suite runs on SQLite, then again on PostgreSQL when TEST_DATABASE_URL names a reachable
# server (a maintenance database such as postgresql+asyncpg://postgres@127.0.0.1:5433/postgres;
# each test gets a database of its own there). .ci/run starts one for it. A short third pass
# runs the storage, relay and crash tests on stock aiosqlite (SQLITE_DRIVER=aiosqlite), the
# fallback should an aiosqlite release change what the inline driver replaces.
FALLBACK_TESTS := tests/storage tests/e2e/test_relay.py tests/e2e/test_crash.py \
	tests/e2e/test_delivery_sweep.py

# The PostgreSQL pass runs beside the SQLite pass (the end-to-end tests mostly wait on each
# other's processes, so two passes take about the time of one on two CPUs); its output is
# printed after the SQLite pass's. Then a short pass on stock aiosqlite (SQLITE_DRIVER).
test: $(VENV)/.test-installed  ## install and run the whole suite (SQLite and PostgreSQL)
	@pg_log=$$(mktemp); pg_pid=; pg_status=0; \
	if $(PY) -m tests.support.databases reachable; then \
		$(PY) -m pytest -q -p no:cacheprovider >$$pg_log 2>&1 & pg_pid=$$!; \
	fi; \
	echo "== SQLite pass"; \
	env -u TEST_DATABASE_URL $(PY) -m pytest -q; sqlite_status=$$?; \
	if [ -n "$$pg_pid" ]; then \
		wait $$pg_pid; pg_status=$$?; echo "== PostgreSQL pass"; cat $$pg_log; \
	fi; \
	rm -f $$pg_log; \
	[ $$sqlite_status -eq 0 ] || exit $$sqlite_status; \
	[ $$pg_status -eq 0 ] || exit $$pg_status; \
	echo "== SQLite on stock aiosqlite (SQLITE_DRIVER=aiosqlite)"; \
	env -u TEST_DATABASE_URL SQLITE_DRIVER=aiosqlite $(PY) -m pytest -q $(FALLBACK_TESTS)

lint: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.test-installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
