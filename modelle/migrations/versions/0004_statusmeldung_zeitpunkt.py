"""Index auf den Zeitpunkt der Statusmeldungen (Meldungen eines Zeitraums, Wochenbericht)

Revision: 0004
Vorgänger: 0003
Erstellt: 2026-11-25 12:51:00.584542
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("statusmeldung", schema=None) as batch_op:
        batch_op.create_index("ix_statusmeldung_zeitpunkt", ["zeitpunkt"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("statusmeldung", schema=None) as batch_op:
        batch_op.drop_index("ix_statusmeldung_zeitpunkt")
