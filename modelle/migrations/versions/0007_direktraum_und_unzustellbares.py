"""Direkträume als eigene Tabelle; nicht zustellbare Nachrichten werden aufgegeben

Revision: 0007
Vorgänger: 0006
Erstellt: 2026-12-05 15:00:00

`direktraum` ersetzt die Zeilen `direktraum:<matrix_id>` in `zustand`: mit einer zufälligen
Kennung, die im Raum steht, damit ein Absturz zwischen Anlegen und Merken keinen zweiten
Raum ergibt, und mit `aufgegeben_am` für Räume, die die Person verlassen hat. Die
bisherigen Räume werden übernommen (mit neuer Kennung; sie sind ja schon gemerkt).

`ausgang.aufgegeben_am` trennt „nicht zustellbar“ von „gesendet“: bisher stand beides in
`gesendet_am` (aufgegeben: ohne Event-ID). Offen ist jetzt, was weder gesendet noch
aufgegeben ist; der Index der offenen Einträge folgt dieser Bedingung.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import modelle.basis

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRAEFIX = "direktraum:"
OFFEN_ALT = "gesendet_am IS NULL"
OFFEN_NEU = "gesendet_am IS NULL AND aufgegeben_am IS NULL"
AUFGEGEBEN = "aufgegeben_am IS NOT NULL"

_zustand = sa.table("zustand", sa.column("schluessel", sa.String), sa.column("wert", sa.Text))
_direktraum = sa.table(
    "direktraum",
    sa.column("matrix_id", sa.String),
    sa.column("raum_id", sa.String),
    sa.column("kennung", sa.String),
    sa.column("erstellt", modelle.basis.UTCZeit(timezone=True)),
    sa.column("aufgegeben_am", modelle.basis.UTCZeit(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "direktraum",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matrix_id", sa.String(length=255), nullable=False),
        sa.Column("raum_id", sa.String(length=255), nullable=True),
        sa.Column("kennung", sa.String(length=64), nullable=False),
        sa.Column("erstellt", modelle.basis.UTCZeit(timezone=True), nullable=False),
        sa.Column("aufgegeben_am", modelle.basis.UTCZeit(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_direktraum")),
        sa.UniqueConstraint("kennung", name=op.f("uq_direktraum_kennung")),
        sa.UniqueConstraint("raum_id", name=op.f("uq_direktraum_raum_id")),
    )
    with op.batch_alter_table("direktraum", schema=None) as batch_op:
        batch_op.create_index(
            "uq_direktraum_aktiv",
            ["matrix_id"],
            unique=True,
            sqlite_where=sa.text("aufgegeben_am IS NULL"),
            postgresql_where=sa.text("aufgegeben_am IS NULL"),
        )

    verbindung = op.get_bind()
    bisher = verbindung.execute(
        sa.select(_zustand.c.schluessel, _zustand.c.wert).where(
            _zustand.c.schluessel.startswith(PRAEFIX)
        )
    ).all()
    if bisher:
        jetzt = dt.datetime.now(dt.UTC)
        verbindung.execute(
            _direktraum.insert(),
            [
                {
                    "matrix_id": schluessel.removeprefix(PRAEFIX),
                    "raum_id": wert,
                    "kennung": secrets.token_hex(16),
                    "erstellt": jetzt,
                    "aufgegeben_am": None,
                }
                for schluessel, wert in bisher
            ],
        )
        verbindung.execute(_zustand.delete().where(_zustand.c.schluessel.startswith(PRAEFIX)))

    with op.batch_alter_table("ausgang", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("aufgegeben_am", modelle.basis.UTCZeit(timezone=True), nullable=True)
        )
    # Bisher aufgegeben hieß: erledigt, aber ohne Event-ID.
    op.execute(
        "UPDATE ausgang SET aufgegeben_am = gesendet_am, gesendet_am = NULL"
        " WHERE event_id IS NULL AND gesendet_am IS NOT NULL"
    )
    with op.batch_alter_table("ausgang", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_ausgang_offen",
            sqlite_where=sa.text(OFFEN_ALT),
            postgresql_where=sa.text(OFFEN_ALT),
        )
        batch_op.create_index(
            "ix_ausgang_offen",
            ["id"],
            unique=False,
            sqlite_where=sa.text(OFFEN_NEU),
            postgresql_where=sa.text(OFFEN_NEU),
        )
        batch_op.create_index(
            "ix_ausgang_aufgegeben",
            ["aufgegeben_am"],
            unique=False,
            sqlite_where=sa.text(AUFGEGEBEN),
            postgresql_where=sa.text(AUFGEGEBEN),
        )


def downgrade() -> None:
    with op.batch_alter_table("ausgang", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_ausgang_aufgegeben",
            sqlite_where=sa.text(AUFGEGEBEN),
            postgresql_where=sa.text(AUFGEGEBEN),
        )
        batch_op.drop_index(
            "ix_ausgang_offen",
            sqlite_where=sa.text(OFFEN_NEU),
            postgresql_where=sa.text(OFFEN_NEU),
        )
    op.execute("UPDATE ausgang SET gesendet_am = aufgegeben_am WHERE aufgegeben_am IS NOT NULL")
    with op.batch_alter_table("ausgang", schema=None) as batch_op:
        batch_op.drop_column("aufgegeben_am")
        batch_op.create_index(
            "ix_ausgang_offen",
            ["id"],
            unique=False,
            sqlite_where=sa.text(OFFEN_ALT),
            postgresql_where=sa.text(OFFEN_ALT),
        )

    verbindung = op.get_bind()
    aktiv = verbindung.execute(
        sa.select(_direktraum.c.matrix_id, _direktraum.c.raum_id).where(
            _direktraum.c.aufgegeben_am.is_(None), _direktraum.c.raum_id.is_not(None)
        )
    ).all()
    if aktiv:
        verbindung.execute(
            _zustand.insert(),
            [{"schluessel": f"{PRAEFIX}{m}", "wert": r} for m, r in aktiv],
        )
    with op.batch_alter_table("direktraum", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_direktraum_aktiv",
            sqlite_where=sa.text("aufgegeben_am IS NULL"),
            postgresql_where=sa.text("aufgegeben_am IS NULL"),
        )
    op.drop_table("direktraum")
