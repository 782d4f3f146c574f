"""Die Grenze zum Homeserver für alles Ausgehende. `bot/matrix.py` setzt sie mit matrix-nio um;
Tests setzen einen Rekorder ein."""

from __future__ import annotations

from typing import Any, Protocol


class Sendefehler(Exception):
    pass


class Ratenlimit(Sendefehler):
    """`M_LIMIT_EXCEEDED`: nach `warte_ms` erneut versuchen."""

    def __init__(self, warte_ms: int) -> None:
        super().__init__(f"Ratenlimit, erneut in {warte_ms} ms")
        self.warte_ms = warte_ms


class VoruebergehenderFehler(Sendefehler):
    """Netz weg, Server überlastet: später erneut versuchen."""


class EndgueltigerFehler(Sendefehler):
    """Wird nie gelingen (z. B. der Bot ist nicht im Raum): aufgeben und protokollieren."""


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

    async def erstelle_direktraum(self, matrix_id: str) -> str:
        """Legt einen Direktraum mit der Person an und lädt sie ein; gibt die Raum-ID zurück."""
        ...
