"""Was ein Client wie Element sendet: Textnachricht, Antwort, Thread, Bearbeitung.

Für die simulierten Menschen in Demo, Tests und Bank; was der Bot selbst sendet, baut
`bot/inhalt.py`. Eine Reaktion sieht von beiden Seiten gleich aus (`bot.inhalt.reaktionsinhalt`).
"""

from __future__ import annotations

from bot.inhalt import Inhalt, beziehung


def textnachricht(
    text: str, *, antwort_auf: str | None = None, thread: str | None = None
) -> Inhalt:
    """Eine Textnachricht einer Person, auf Wunsch als Antwort und/oder im Thread."""
    inhalt: Inhalt = {"msgtype": "m.text", "body": text}
    if (bezug := beziehung(antwort_auf=antwort_auf, thread_wurzel=thread)) is not None:
        inhalt["m.relates_to"] = bezug
    return inhalt


def bearbeitung(event_id: str, neuer_text: str) -> Inhalt:
    return {
        "msgtype": "m.text",
        "body": f"* {neuer_text}",
        "m.new_content": {"msgtype": "m.text", "body": neuer_text},
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }
