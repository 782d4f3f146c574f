PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installiert

.PHONY: test demo clean migration

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check bot befehle modelle tests
	$(BIN)/ruff format --check bot befehle modelle tests
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

# Vorläufig: lädt die Beispielstruktur in eine Wegwerf-Datenbank und zeigt sie.
# Sobald der Bot läuft, startet dies den echten Bot mit eigenem Homeserver.
demo: $(STAMP)
	@ordner=$$(mktemp -d) && trap 'rm -rf "$$ordner"' EXIT && \
	  cd "$$ordner" && \
	  $(CURDIR)/$(BIN)/klimabot struktur import $(CURDIR)/beispiele/muenster.toml --wer Demo && \
	  echo && echo "--- klimabot struktur export ---" && \
	  $(CURDIR)/$(BIN)/klimabot struktur export

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

# Neue Alembic-Revision aus den Unterschieden zwischen Modellen und migriertem Schema.
migration: $(STAMP)
	rm -f .migration.db
	$(BIN)/python -m modelle.migration --neu "$(NAME)" --url sqlite+aiosqlite:///.migration.db
	rm -f .migration.db
