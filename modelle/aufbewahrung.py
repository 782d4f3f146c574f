"""Aufbewahrung: was der Bot nur für „genau einmal“ braucht, wird nach einer Frist gelöscht.

Zwei Tabellen wüchsen sonst ohne Ende: `verarbeitetes_ereignis` (je behandeltes Matrix-Ereignis
eine Zeile) und `ausgang` (jede gesendete Nachricht samt Inhalt, beim Wochenbericht mit dem
Diagramm). Statusmeldungen, Änderungsprotokoll und `versand` bleiben; sie sind die Geschichte.

Was bleibt, auch wenn es älter ist als die Frist:

- Offene Nachrichten (weder gesendet noch aufgegeben) – und alles, was nicht mindestens
  `SPIELRAUM` älter ist als die älteste offene: eine Folge im Thread findet ihre
  Hauptnachricht über deren Zeile im Ausgangskorb (`ausgang:<txn>`), beide entstehen in
  derselben Transaktion.
- Aufgegebene Nachrichten, solange kein gesendeter Wochenbericht sie genannt hat (er nennt
  alles, was bis zu seinem `erstellt` aufgegeben wurde, siehe `befehle.bericht`).

Gelöscht wird, was älter ist als die Frist; die Frist deckt, was der Bot nach einem Neustart
noch einmal liest (die Sync-Position ist höchstens Sekunden alt). Dass er nach langem Stillstand
nichts zu früh löscht, sichert der Aufrufer: er räumt erst auf, wenn der erste Sync nach dem
Start behandelt ist (`bot.aufbewahrung`).

Was die Frist für Menschen heißt: Eine Antwort oder Reaktion auf eine Nachricht des Bots, die
älter ist als die Frist, kennt der Bot nicht mehr als seine – sie wirkt wie eine Antwort auf
irgendeine Nachricht, also nicht als Meldung. Bearbeiten und Zurückziehen einer Meldung gehen
weiter (die Meldung trägt ihre Event-ID selbst).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelle.tabellen import Ausgang, VerarbeitetesEreignis
from modelle.versand import letzter_wochenbericht_abfrage

# Abstand zur ältesten offenen Nachricht: deren Hauptnachricht entstand Millisekunden vorher.
SPIELRAUM = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Geraeumt:
    """Wie viele Zeilen eine Aufräumrunde löschte."""

    ereignisse: int
    nachrichten: int


async def raeume_auf(sitzung: AsyncSession, *, jetzt: dt.datetime, tage: int) -> Geraeumt:
    """Löscht behandelte Ereignisse und erledigte Nachrichten, die älter sind als `tage`.

    Drei Anweisungen, jede über einen Index bzw. über eine Tabelle, die die Frist selbst klein
    hält: die Grenzen (älteste offene Nachricht, letzter gesendeter Wochenbericht) in einer
    Abfrage, dann je Tabelle ein DELETE. Der Aufrufer committet.
    """
    grenze = jetzt - dt.timedelta(days=tage)
    aeltester_offener, letzter_bericht = (
        await sitzung.execute(
            select(
                select(func.min(Ausgang.erstellt))
                .where(Ausgang.gesendet_am.is_(None), Ausgang.aufgegeben_am.is_(None))
                .scalar_subquery(),
                letzter_wochenbericht_abfrage().scalar_subquery(),
            )
        )
    ).one()
    ereignisse = await sitzung.execute(
        delete(VerarbeitetesEreignis)
        .where(VerarbeitetesEreignis.zeitpunkt < grenze)
        .execution_options(synchronize_session=False)
    )
    grenze_ausgang = grenze
    if aeltester_offener is not None:
        grenze_ausgang = min(grenze, aeltester_offener - SPIELRAUM)
    erledigt: Any = Ausgang.gesendet_am < grenze_ausgang
    if letzter_bericht is not None:
        erledigt = or_(
            erledigt,
            and_(
                Ausgang.aufgegeben_am < grenze_ausgang,
                Ausgang.aufgegeben_am <= letzter_bericht,
            ),
        )
    nachrichten = await sitzung.execute(
        delete(Ausgang)
        .where(Ausgang.erstellt < grenze_ausgang, erledigt)
        .execution_options(synchronize_session=False)
    )
    return Geraeumt(
        ereignisse=cast(CursorResult[Any], ereignisse).rowcount,
        nachrichten=cast(CursorResult[Any], nachrichten).rowcount,
    )
