"""Der Ausgangskorb: Was der Bot sagt, wird erst gespeichert, dann gesendet.

So geht nichts verloren, wenn der Homeserver gerade nicht erreichbar ist oder der Bot
abstürzt, und nichts kommt doppelt an: jede Zeile hat ihre feste Transaktions-ID. Hier wird
eingereiht – in der Transaktion dessen, der etwas zu sagen hat – und nachgesehen, welche
gesendete Nachricht des Bots eine Antwort oder Reaktion meint. Gesendet wird nach dem Commit
vom Zusteller (`bot.zusteller`).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from befehle.grundlagen import Antwort
from bot.inhalt import Inhalt, bildinhalt, nachrichteninhalt
from modelle.direktraeume import PLATZHALTER as DIREKTRAUM_PLATZHALTER
from modelle.tabellen import Ausgang

NACHRICHT = "m.room.message"
REAKTION = "m.reaction"
# Unter diesem Schlüssel in `sitzung.info` sammelt `einreihen` die Einträge einer Transaktion.
EINGEREIHT = "klimabot.eingereiht"


def abgeleitete_txn_id(art: str, event_id: str, laenge: int) -> str:
    """Eine Transaktions-ID aus der Event-ID, worauf der Bot sendet – bei jedem Versuch dieselbe:
    Wer nach einem Absturz dasselbe noch einmal sendet, bekommt vom Homeserver das erste Ereignis
    zurück statt eines zweiten (siehe README, „Genau einmal“)."""
    return f"klimabot-{art}-" + hashlib.sha256(event_id.encode()).hexdigest()[:laenge]


def antwort_txn_id(event_id: str) -> str:
    """Die Transaktions-ID der (ersten) Antwort auf ein Ereignis."""
    return abgeleitete_txn_id("antwort", event_id, 40)


def einreihen(
    sitzung: AsyncSession,
    raum_id: str,
    ereignistyp: str,
    inhalt: Inhalt,
    projekte: tuple[str, ...] = (),
    *,
    txn_id: str | None = None,
) -> Ausgang:
    """Reiht ein Ereignis in der Transaktion des Aufrufers ein; gesendet wird nach dem Commit.

    Ohne `txn_id` bekommt es eine zufällige Transaktions-ID."""
    eintrag = Ausgang(
        txn_id=txn_id or f"klimabot-{uuid.uuid4().hex}",
        raum_id=raum_id,
        ereignistyp=ereignistyp,
        inhalt=inhalt,
        projekte=list(projekte),
    )
    sitzung.add(eintrag)
    sitzung.info.setdefault(EINGEREIHT, []).append(eintrag)
    return eintrag


def eingereiht(sitzung: AsyncSession) -> list[Ausgang]:
    """Was in dieser Sitzung eingereiht wurde (nach dem Commit: mit ID, bereit zum Übergeben)."""
    return list(sitzung.info.get(EINGEREIHT, ()))


def verwerfe_eingereihtes(sitzung: AsyncSession) -> None:
    """Nach einem Rollback: das Eingereihte gibt es nicht mehr."""
    sitzung.info.pop(EINGEREIHT, None)


VERWEIS = "ausgang:"
DIREKT = DIREKTRAUM_PLATZHALTER


def verweis(eintrag: Ausgang) -> str:
    """Platzhalter für die Event-ID eines Eintrags, die es erst nach dem Senden gibt."""
    return f"{VERWEIS}{eintrag.txn_id}"


def direktraum(matrix_id: str) -> str:
    """Platzhalter für den Direktraum mit einer Person; angelegt wird er beim ersten Senden."""
    return f"{DIREKT}{matrix_id}"


def reihe_antwort_ein(
    sitzung: AsyncSession,
    raum_id: str,
    antwort: Antwort,
    *,
    antwort_auf: str | None = None,
    thread_wurzel: str | None = None,
    benachrichtigen: bool = False,
    txn_id: str | None = None,
) -> Ausgang | None:
    """Reiht Nachricht und Thread einer Antwort ein; gibt den Eintrag der Hauptnachricht zurück.

    `txn_id` gilt der Hauptnachricht (etwa `antwort_txn_id`), die Folgen bekommen zufällige.

    `benachrichtigen` gilt nur der Hauptnachricht: Sie pingt die in ihr Erwähnten. Die Folgen
    im Thread sind Einzelheiten dazu und bleiben stumm, sonst käme je Projekt ein Ping.
    """
    if antwort.nachricht is None:
        return None
    kopf = einreihen(
        sitzung,
        raum_id,
        NACHRICHT,
        nachrichteninhalt(
            antwort.nachricht,
            projekte=antwort.projekte,
            antwort_auf=antwort_auf,
            thread_wurzel=thread_wurzel,
            benachrichtigen=benachrichtigen,
        ),
        antwort.projekte,
        txn_id=txn_id,
    )
    # Folgen hängen im Thread der Hauptnachricht – oder im selben Thread, wenn sie schon darin ist.
    wurzel = thread_wurzel or verweis(kopf)
    for folge in antwort.thread:
        if folge.nachricht is not None:
            einreihen(
                sitzung,
                raum_id,
                NACHRICHT,
                nachrichteninhalt(folge.nachricht, projekte=folge.projekte, thread_wurzel=wurzel),
                folge.projekte,
            )
        if folge.bild is not None:
            bild = folge.bild
            einreihen(
                sitzung,
                raum_id,
                NACHRICHT,
                bildinhalt(
                    bild.beschreibung,
                    bild.dateiname,
                    bild.mimetype,
                    bild.daten,
                    thread_wurzel=wurzel,
                ),
            )
    return kopf


@dataclass(frozen=True, slots=True)
class BotNachricht:
    projekte: tuple[str, ...]
    thread_wurzel: str | None


async def bot_nachricht(sitzung: AsyncSession, event_id: str) -> BotNachricht | None:
    """Projektbezüge und Thread einer gesendeten Nachricht des Bots; None, wenn nicht vom Bot."""
    zeile = (
        await sitzung.execute(
            select(Ausgang.projekte, Ausgang.inhalt).where(Ausgang.event_id == event_id)
        )
    ).first()
    if zeile is None:
        return None
    projekte, inhalt = zeile
    bezug = inhalt.get("m.relates_to")
    wurzel = bezug.get("event_id") if isinstance(bezug, dict) else None
    thread = wurzel if isinstance(bezug, dict) and bezug.get("rel_type") == "m.thread" else None
    return BotNachricht(tuple(projekte), thread if isinstance(thread, str) else None)
