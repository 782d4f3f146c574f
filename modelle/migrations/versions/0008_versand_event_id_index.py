"""Index auf versand.event_id

Nach jeder gesendeten Nachricht ersetzt der Zusteller den Platzhalter der Event-ID in `versand`
(`bot.zusteller`); ohne Index las das jedes Mal die ganze Tabelle.

Revision: 0008
Vorgänger: 0007
Erstellt: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("versand", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_versand_event_id"), ["event_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("versand", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_versand_event_id"))
