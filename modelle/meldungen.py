"""Statusmeldungen schreiben, bearbeiten und zurückziehen."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from modelle.tabellen import Person, Statusmeldung
from modelle.werte import Ampel, Quelle


async def speichere_meldung(
    sitzung: AsyncSession,
    *,
    projekt_id: int,
    autor_id: int | None,
    ampel: Ampel,
    fortschritt: int | None,
    text: str,
    herausforderungen: str | None,
    quelle: Quelle,
    zeitpunkt: dt.datetime,
    event_id: str | None = None,
    raum_id: str | None = None,
) -> Statusmeldung:
    meldung = Statusmeldung(
        projekt_id=projekt_id,
        autor_id=autor_id,
        ampel=ampel,
        fortschritt=fortschritt,
        text=text,
        herausforderungen=herausforderungen,
        quelle=quelle,
        zeitpunkt=zeitpunkt,
        event_id=event_id,
        raum_id=raum_id,
    )
    sitzung.add(meldung)
    await sitzung.flush()
    return meldung


async def meldung_zum_ereignis(
    sitzung: AsyncSession, event_id: str
) -> tuple[Statusmeldung, str | None] | None:
    """Die Meldung, die aus diesem Ereignis entstand, mit der Matrix-ID ihrer Autor*in."""
    zeile = (
        await sitzung.execute(
            select(Statusmeldung, Person.matrix_id)
            .outerjoin(Person, Person.id == Statusmeldung.autor_id)
            .where(Statusmeldung.event_id == event_id)
        )
    ).first()
    return None if zeile is None else (zeile[0], zeile[1])


def aendere_meldung(
    meldung: Statusmeldung,
    *,
    projekt_id: int,
    ampel: Ampel,
    fortschritt: int | None,
    text: str,
    herausforderungen: str | None,
    zeitpunkt: dt.datetime,
) -> None:
    """Übernimmt den bearbeiteten Inhalt (auch ein anderes Projekt); `zeitpunkt` ist der der
    Bearbeitung, der Zeitpunkt der Meldung selbst bleibt."""
    meldung.projekt_id = projekt_id
    meldung.ampel = ampel
    meldung.fortschritt = fortschritt
    meldung.text = text
    meldung.herausforderungen = herausforderungen
    meldung.bearbeitet_am = zeitpunkt


def ziehe_zurueck(meldung: Statusmeldung, zeitpunkt: dt.datetime) -> None:
    """Zieht die Meldung zurück; sie bleibt für die Nachvollziehbarkeit gespeichert."""
    meldung.zurueckgezogen = True
    meldung.zurueckgezogen_am = zeitpunkt
