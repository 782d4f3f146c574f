"""Aus einer `Nachricht` wird der Inhalt eines Matrix-Ereignisses – an genau dieser Stelle.

Jede Nachricht des Bots hat HTML-`formatted_body` und lesbaren `body`, trägt unter
`m.mentions` genau die `Erwaehnung`en der Nachricht (ohne das Feld pingte schon ein Name im
Text) und, wo sie Projekte zeigt, deren Slugs unter `PROJEKTE`, damit Antworten und
Reaktionen darauf zugeordnet werden.

Ob sie pingt, entscheidet `msgtype`: Die Standard-Pushregeln stellen
`.m.rule.suppress_notices` vor `.m.rule.is_user_mention`, ein `m.notice` meldet also niemandem
etwas, auch nicht den Erwähnten. Darum sind Antworten auf Befehle und Zeilen im Thread
`m.notice` (darauf antworten auch andere Bots nicht); nur was Menschen erreichen soll
(`benachrichtigen`, vom Planer gesetzt für Abfrage, Erinnerung und Wochenbericht) ist `m.text`.

`m.mentions` steht auch in Antworten, die niemanden erwähnen. Ohne den Schlüssel gälten für
sie die alten Erwähnungsregeln. Wer `.m.rule.suppress_notices` abschaltet („Nachrichten von
Bots“ in Element), würde dann bei jedem `!status` hervorgehoben, der ihren Anzeigenamen nennt. Das
kostet Zeit: Synapse 1.163 prüft den Schlüssel bei jedem Ereignis zweimal mit
`jsonschema.validate`, und das prüft jedes Mal auch das Schema selbst (~0,75 ms je Aufruf).
Eine Antwort kommt so ~2 ms später an (`make bench`, Zeile „Echo wie Klimabot“).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from befehle.nachricht import Nachricht

PROJEKTE = "de.klimabot.projekte"
# Nur im Ausgangskorb: Bilddaten, die vor dem Senden hochgeladen werden. Geht nie hinaus.
ANHANG = "de.klimabot.anhang"
# Matrix begrenzt ein Ereignis auf 65 536 Bytes; Hülle und Signaturen brauchen ihren Teil.
MAX_INHALT_BYTES = 60_000

Inhalt = dict[str, Any]


def nachrichteninhalt(
    nachricht: Nachricht,
    *,
    projekte: tuple[str, ...] = (),
    antwort_auf: str | None = None,
    thread_wurzel: str | None = None,
    benachrichtigen: bool = False,
) -> Inhalt:
    inhalt: Inhalt = {
        "msgtype": "m.text" if benachrichtigen else "m.notice",
        "body": nachricht.text,
        "format": "org.matrix.custom.html",
        "formatted_body": nachricht.html,
        "m.mentions": {"user_ids": nachricht.erwaehnte},
    }
    if projekte:
        inhalt[PROJEKTE] = list(projekte)
    if (bezug := beziehung(antwort_auf=antwort_auf, thread_wurzel=thread_wurzel)) is not None:
        inhalt["m.relates_to"] = bezug
    if _groesse(inhalt) > MAX_INHALT_BYTES:
        return nachrichteninhalt(
            Nachricht().absatz(
                "Die Antwort wäre zu lang für eine Nachricht. Bitte fragen Sie genauer, "
                "z. B. nach einem einzelnen Themenfeld oder Projekt."
            ),
            antwort_auf=antwort_auf,
            thread_wurzel=thread_wurzel,
        )
    return inhalt


def beziehung(*, antwort_auf: str | None, thread_wurzel: str | None) -> Inhalt | None:
    """`m.relates_to` einer Antwort und/oder Zeile im Thread, wie Element sie schreibt: im Thread
    mit Rückfall auf eine einfache Antwort (an die Wurzel, wenn auf nichts anderes)."""
    if thread_wurzel is not None:
        return {
            "rel_type": "m.thread",
            "event_id": thread_wurzel,
            "is_falling_back": antwort_auf is None,
            "m.in_reply_to": {"event_id": antwort_auf or thread_wurzel},
        }
    if antwort_auf is not None:
        return {"m.in_reply_to": {"event_id": antwort_auf}}
    return None


def bildinhalt(
    beschreibung: str,
    dateiname: str,
    mimetype: str,
    daten: bytes,
    *,
    thread_wurzel: str | None = None,
) -> Inhalt:
    """Ein `m.image`; die Bilddaten lädt der Zusteller erst beim Senden hoch (→ `url`)."""
    inhalt: Inhalt = {
        "msgtype": "m.image",
        "body": beschreibung,
        "filename": dateiname,
        "info": {"mimetype": mimetype, "size": len(daten)},
        "m.mentions": {},
        ANHANG: {"daten": base64.b64encode(daten).decode(), "mimetype": mimetype},
    }
    if thread_wurzel is not None:
        inhalt["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": thread_wurzel,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": thread_wurzel},
        }
    return inhalt


def reaktionsinhalt(event_id: str, schluessel: str) -> Inhalt:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": schluessel}}


def _groesse(inhalt: Inhalt) -> int:
    return len(json.dumps(inhalt, ensure_ascii=False).encode())
