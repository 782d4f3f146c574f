"""Strukturstand: ein Zähler, den Trigger bei jeder Änderung der Struktur erhöhen

Revision: 0005
Vorgänger: 0004
Erstellt: 2026-12-04 23:00:00

Der Bot hält das Verzeichnis (Felder, Projekte, Personen, Rollen, Räume) im Speicher und
lädt es neu, sobald dieser Zähler sich bewegt. Trigger statt Python, damit auch Änderungen
aus einem anderen Prozess (`klimabot struktur import`) oder per Hand in SQL zählen.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABELLEN = ("themenfeld", "strategieprojekt", "person", "rollenzuweisung", "raum")
ARTEN = ("INSERT", "UPDATE", "DELETE")
ERHOEHEN = "UPDATE strukturstand SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "strukturstand",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strukturstand")),
    )
    op.execute("INSERT INTO strukturstand (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION strukturstand_erhoehen() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {ERHOEHEN}; RETURN NULL; END $$"
        )
        for tabelle in TABELLEN:
            op.execute(
                f"CREATE TRIGGER strukturstand_{tabelle} "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {tabelle} "
                "FOR EACH STATEMENT EXECUTE FUNCTION strukturstand_erhoehen()"
            )
    else:
        for tabelle in TABELLEN:
            for art in ARTEN:
                op.execute(
                    f"CREATE TRIGGER strukturstand_{tabelle}_{art.lower()} "
                    f"AFTER {art} ON {tabelle} BEGIN {ERHOEHEN}; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for tabelle in TABELLEN:
            op.execute(f"DROP TRIGGER strukturstand_{tabelle} ON {tabelle}")
        op.execute("DROP FUNCTION strukturstand_erhoehen()")
    else:
        for tabelle in TABELLEN:
            for art in ARTEN:
                op.execute(f"DROP TRIGGER strukturstand_{tabelle}_{art.lower()}")
    op.drop_table("strukturstand")
