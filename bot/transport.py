"""Die Grenze zum Homeserver für alles Ausgehende. `bot/niotransport.py` setzt sie mit
matrix-nio um; Tests setzen einen Rekorder ein.

Die Fehlerarten sagen dem Ausgangskorb, wie er weitermacht – und zwar je Raum, denn ein
Raum, der nicht will, darf keinen anderen aufhalten:

- `Ratenlimit` (`M_LIMIT_EXCEEDED`): so lange warten wie verlangt, dann erneut.
- `VoruebergehenderFehler` (Netz weg, Homeserver startet neu, 502/503/504): mit wachsender
  Pause erneut, ohne Grenze.
- `NichtImRaum` (`M_FORBIDDEN`, Raum unbekannt) und `UnbekannterFehler` (unbekannter
  Fehlercode, 500, was nio sonst wirft): einige Versuche mit Pause, dann endgültig.
- `EndgueltigerFehler` (zu groß, ungültig): sofort aufgeben.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

# Wie ein Homeserver die Mitgliedschaft einer Person in einem Raum nennt.
Mitgliedschaft = Literal["join", "invite", "leave", "ban", "knock"]


class Sendefehler(Exception):
    pass


class Ratenlimit(Sendefehler):
    """`M_LIMIT_EXCEEDED`: nach `warte_ms` erneut versuchen."""

    def __init__(self, warte_ms: int) -> None:
        super().__init__(f"Ratenlimit, erneut in {warte_ms} ms")
        self.warte_ms = warte_ms


class VoruebergehenderFehler(Sendefehler):
    """Netz weg, Homeserver nicht erreichbar oder überlastet: warten und erneut versuchen.

    Betrifft den Homeserver als Ganzes, nicht einen Raum; deshalb ohne Grenze der Versuche –
    sonst ginge nach einem langen Ausfall verloren, was dann längst wieder zustellbar ist.
    """


class BegrenzterFehler(Sendefehler):
    """Kann sich bald geben (eine Einladung ist unterwegs), vielleicht aber nie: einige
    Versuche mit wachsender Pause, dann gibt der Ausgangskorb die Nachricht auf."""


class NichtImRaum(BegrenzterFehler):
    """Der Bot ist nicht im Raum, darf dort nicht senden oder kennt den Raum nicht."""


class UnbekannterFehler(BegrenzterFehler):
    """Ein Fehler, den der Bot nicht einordnen kann."""


class EndgueltigerFehler(Sendefehler):
    """Wird nie gelingen (zu groß, ungültig): sofort aufgeben und protokollieren."""


class Transport(Protocol):
    async def sende(
        self, raum_id: str, ereignistyp: str, inhalt: dict[str, Any], txn_id: str
    ) -> str:
        """Sendet ein Ereignis und gibt seine Event-ID zurück.

        Dieselbe `txn_id` erneut zu senden, legt kein zweites Ereignis an.
        """
        ...

    async def lade_hoch(
        self, raum_id: str, daten: bytes, mimetype: str, dateiname: str
    ) -> dict[str, Any]:
        """Lädt eine Datei für einen Raum hoch; gibt zurück, was in den Inhalt gehört.

        Das ist `{"url": mxc}` – oder in einem verschlüsselten Raum `{"file": {...}}` mit
        der mxc-URL der verschlüsselten Datei und ihren Schlüsseln.
        """
        ...

    async def erstelle_direktraum(self, matrix_id: str, kennung: str) -> str:
        """Legt einen Direktraum mit der Person an und lädt sie ein; gibt die Raum-ID zurück.

        `kennung` steht im Raum (Zustandsereignis `de.klimabot.direktraum`), damit
        `finde_direktraum` ihn wiederfindet, wenn der Bot abstürzte, bevor er sich die
        Raum-ID merken konnte.
        """
        ...

    async def finde_direktraum(self, kennung: str) -> str | None:
        """Der Raum des Bots, der mit dieser Kennung angelegt wurde; None, wenn es keinen gibt."""
        ...

    async def mitgliedschaft(self, raum_id: str, matrix_id: str) -> Mitgliedschaft | None:
        """Wie die Person laut Homeserver zum Raum steht; None, wenn sie nie Mitglied war.

        Wirft `NichtImRaum`, wenn der Bot den Raum nicht (mehr) sehen darf.
        """
        ...

    async def verlasse(self, raum_id: str) -> None:
        """Der Bot verlässt den Raum."""
        ...
