"""Inhalte von Ereignissen, wie Element sie sendet – für Testbot und echte Test-Clients."""

from __future__ import annotations

from typing import Any


def textnachricht(
    text: str, *, antwort_auf: str | None = None, thread: str | None = None
) -> dict[str, Any]:
    inhalt: dict[str, Any] = {"msgtype": "m.text", "body": text}
    if thread is not None:
        inhalt["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": thread,
            "is_falling_back": antwort_auf is None,
            "m.in_reply_to": {"event_id": antwort_auf or thread},
        }
    elif antwort_auf is not None:
        inhalt["m.relates_to"] = {"m.in_reply_to": {"event_id": antwort_auf}}
    return inhalt


def reaktion(event_id: str, schluessel: str) -> dict[str, Any]:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": schluessel}}


def bearbeitung(event_id: str, neuer_text: str) -> dict[str, Any]:
    return {
        "msgtype": "m.text",
        "body": f"* {neuer_text}",
        "m.new_content": {"msgtype": "m.text", "body": neuer_text},
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }
