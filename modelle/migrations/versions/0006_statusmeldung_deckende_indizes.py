"""Indizes, aus denen sich der Stand der Projekte ohne die Meldungen selbst ablesen lässt

Revision: 0006
Vorgänger: 0005
Erstellt: 2026-12-04 23:30:00

Die beiden Indizes auf `statusmeldung` tragen außer (projekt_id, zeitpunkt) bzw.
(zeitpunkt) nun auch Id, Rückzug und Ampel. „Neueste gültige Meldung je Projekt bis …“
und die Ampelschritte eines Zeitraums (Wochenbericht, Ampelverlauf) liest die Datenbank
dann allein aus dem Index, in der Reihenfolge (zeitpunkt, id), die die Abfragen verlangen,
statt je Meldung die Tabellenzeile mit ihren Texten zu holen.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("statusmeldung", schema=None) as batch_op:
        batch_op.create_index(
            "ix_statusmeldung_projekt_stand",
            ["projekt_id", "zeitpunkt", "id", "zurueckgezogen", "ampel"],
            unique=False,
        )
        batch_op.create_index(
            "ix_statusmeldung_zeitraum",
            ["zeitpunkt", "projekt_id", "id", "zurueckgezogen", "ampel"],
            unique=False,
        )
        batch_op.drop_index("ix_statusmeldung_projekt_zeit")
        batch_op.drop_index("ix_statusmeldung_zeitpunkt")


def downgrade() -> None:
    with op.batch_alter_table("statusmeldung", schema=None) as batch_op:
        batch_op.create_index("ix_statusmeldung_zeitpunkt", ["zeitpunkt"], unique=False)
        batch_op.create_index(
            "ix_statusmeldung_projekt_zeit", ["projekt_id", "zeitpunkt"], unique=False
        )
        batch_op.drop_index("ix_statusmeldung_zeitraum")
        batch_op.drop_index("ix_statusmeldung_projekt_stand")
