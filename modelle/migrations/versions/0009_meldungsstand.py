"""Meldungsstand: ein zweiter Zähler in `strukturstand`, für jede Änderung an Statusmeldungen

Revision: 0009
Vorgänger: 0008
Erstellt: 2026-12-05

Lesebefehle (`!status energie`) beantwortet der Bot aus einem Lagebild im Speicher, solange
Struktur- und Meldungsstand sich nicht bewegt haben. Trigger statt Python, wie bei 0005: auch
Meldungen aus einem anderen Prozess oder per Hand in SQL zählen.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ARTEN = ("INSERT", "UPDATE", "DELETE")
ERHOEHEN = "UPDATE strukturstand SET meldungen = meldungen + 1 WHERE id = 1"


def upgrade() -> None:
    # Ohne batch_alter_table: SQLite kann eine Spalte mit Vorgabe anfügen, und die Tabelle neu
    # anzulegen scheiterte an den Triggern aus 0005, die auf sie verweisen.
    op.add_column(
        "strukturstand",
        sa.Column("meldungen", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION meldungsstand_erhoehen() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {ERHOEHEN}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER meldungsstand_statusmeldung "
            "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON statusmeldung "
            "FOR EACH STATEMENT EXECUTE FUNCTION meldungsstand_erhoehen()"
        )
    else:
        for art in ARTEN:
            op.execute(
                f"CREATE TRIGGER meldungsstand_statusmeldung_{art.lower()} "
                f"AFTER {art} ON statusmeldung BEGIN {ERHOEHEN}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER meldungsstand_statusmeldung ON statusmeldung")
        op.execute("DROP FUNCTION meldungsstand_erhoehen()")
    else:
        for art in ARTEN:
            op.execute(f"DROP TRIGGER meldungsstand_statusmeldung_{art.lower()}")
    op.drop_column("strukturstand", "meldungen")
