PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installiert

.PHONY: test demo clean migration bench

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

# Die Tests laufen in zwei Prozessen (-n 2): Fuzzing, Datenbank und Synapse brauchen Rechenzeit,
# allein in einem Prozess dauerte die Suite über 15 min. Dateiweise verteilt (loadfile): die
# Tests einer Datei laufen nacheinander im selben Prozess, etwa die beiden Demos (Port 8008).
# Einzelne Tests: .venv/bin/pytest …
TEST_PROZESSE ?= 2

test: $(STAMP)
	$(BIN)/ruff check bot befehle modelle demo tests bench
	$(BIN)/ruff format --check bot befehle modelle demo tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n $(TEST_PROZESSE) --dist loadfile $(PYTEST_ARGS)

# Führt den Bot vor: eigener Wegwerf-Synapse auf 127.0.0.1, Beispielstruktur, kurze Szene;
# läuft dann weiter zum Ausprobieren mit Element, bis Strg+C alles aufräumt.
demo: $(STAMP)
	$(BIN)/klimabot-demo

# Leistungsmessung (Issue 6, Ziele aus Issue 13): eigener Synapse, Klimabot gegen Echo-Bot, Daten in Menge auf
# SQLite und PostgreSQL; Tabelle auf die Konsole, Rohdaten nach bench/results.json. Nicht Teil
# von make test. Optionen: make bench BENCH_ARGS="--proben 300" (python -m bench --help).
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# Neue Alembic-Revision aus den Unterschieden zwischen Modellen und migriertem Schema.
migration: $(STAMP)
	rm -f .migration.db
	$(BIN)/python -m modelle.migration --neu "$(NAME)" --url sqlite+aiosqlite:///.migration.db
	rm -f .migration.db
