"""Die Chat-Befehle: je Befehl ein Modul, das ihn deklariert und beantwortet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Der Zeichenprozess (`python -m befehle.diagramm`) braucht kein SQLAlchemy.
    from befehle.grundlagen import Befehl


def alle_befehle() -> list[Befehl[Any]]:
    """Die Befehle in der Reihenfolge, in der `!hilfe` sie zeigt."""
    from befehle import bericht, hilfe, meldung, projekte, status, themen, verlauf, wer, zeitplan

    return [
        hilfe.hilfe,
        status.status,
        themen.themen,
        projekte.projekte,
        wer.wer,
        meldung.meldung,
        verlauf.verlauf,
        zeitplan.zeitplan,
        bericht.bericht,
    ]
