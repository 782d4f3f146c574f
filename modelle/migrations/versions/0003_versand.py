"""Versand: was wann gesendet wurde

Revision: 0003
Vorgänger: 0002
Erstellt: 2026-11-25 10:27:31.590802
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import modelle.basis

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "versand",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schluessel", sa.String(length=255), nullable=False),
        sa.Column("art", sa.String(length=16), nullable=False),
        sa.Column("themenfeld_id", sa.Integer(), nullable=True),
        sa.Column("projekt_id", sa.Integer(), nullable=True),
        sa.Column("termin", modelle.basis.UTCZeit(timezone=True), nullable=False),
        sa.Column("faellig_am", modelle.basis.UTCZeit(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("erstellt", modelle.basis.UTCZeit(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=True),
        sa.Column("raum_id", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            "art IN ('abfrage', 'wochenbericht', 'erinnerung', 'erinnerung_dm')",
            name=op.f("ck_versand_art_bekannt"),
        ),
        sa.CheckConstraint(
            "status IN ('gesendet', 'verspaetet', 'uebersprungen')",
            name=op.f("ck_versand_status_bekannt"),
        ),
        sa.CheckConstraint(
            "CASE art"
            " WHEN 'abfrage' THEN themenfeld_id IS NOT NULL AND projekt_id IS NULL"
            " WHEN 'wochenbericht' THEN themenfeld_id IS NULL AND projekt_id IS NULL"
            " ELSE projekt_id IS NOT NULL END",
            name=op.f("ck_versand_bezug_passend"),
        ),
        sa.ForeignKeyConstraint(
            ["projekt_id"],
            ["strategieprojekt.id"],
            name=op.f("fk_versand_projekt_id_strategieprojekt"),
        ),
        sa.ForeignKeyConstraint(
            ["themenfeld_id"], ["themenfeld.id"], name=op.f("fk_versand_themenfeld_id_themenfeld")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_versand")),
        sa.UniqueConstraint("schluessel", name=op.f("uq_versand_schluessel")),
    )
    with op.batch_alter_table("versand", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_versand_projekt_id"), ["projekt_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_versand_themenfeld_id"), ["themenfeld_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("versand", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_versand_themenfeld_id"))
        batch_op.drop_index(batch_op.f("ix_versand_projekt_id"))
    op.drop_table("versand")
