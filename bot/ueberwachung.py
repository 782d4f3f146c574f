"""Der HTTP-Zugang für den Betrieb: `/health`, `/ready` und `/metrics` (Prometheus).

Er läuft in der Ereignisschleife des Bots (aiohttp) und wird mit ihm gestartet und beendet
(`bot/app.py`); eingeschaltet wird er im Abschnitt `[ueberwachung]` der Konfiguration.

- `/health`: 200, solange der Prozess antwortet.
- `/ready`: 200 nur, wenn diese Instanz arbeiten kann – aktiv (nicht Bereitschaft), der letzte
  Sync höchstens `sync_hoechstens_s` her, die Datenbank antwortet und der älteste offene
  Eintrag im Ausgangskorb ist jünger als `ausgang_hoechstens_s`. Sonst 503 mit den Gründen.
- `/metrics`: die Zähler aus `bot/metriken.py`; Tiefe und Alter des Ausgangskorbs werden dafür
  jedes Mal in der Datenbank nachgesehen, und `klimabot_bereit` sagt, was `/ready` sagen würde
  (so braucht eine Alarmregel keinen eigenen Prüfer für `/ready`).

Ohne Anmeldung: wer den Zugang erreicht, liest Zahlen, aber keine Inhalte. Darum bindet er
in der Vorgabe nur an 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import ipaddress
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.config import KonfigurationFehler, UeberwachungEinstellungen
from bot.metriken import Betriebsart, Metriken
from bot.zusteller import offener_ausgangskorb
from modelle.basis import jetzt
from modelle.datenbank import Sitzungsfabrik, kurzer_grund

log = logging.getLogger(__name__)

# So lange darf die Datenbank für eine Prüfung brauchen, bevor sie als nicht erreichbar gilt.
DATENBANK_WARTEZEIT_S = 5.0
_BIND_GRUENDE = {
    errno.EADDRINUSE: "der Port ist belegt",
    errno.EADDRNOTAVAIL: "diese Adresse hat der Rechner nicht",
    errno.EACCES: "keine Berechtigung, etwa für einen Port unter 1024",
}


@dataclass(frozen=True)
class Lage:
    """Das Ergebnis einer Prüfung: bereit, wenn es keine Gründe dagegen gibt."""

    betriebsart: Betriebsart
    gruende: list[str] = field(default_factory=list)

    @property
    def bereit(self) -> bool:
        return not self.gruende

    def als_json(self) -> str:
        return json.dumps(
            {
                "bereit": self.bereit,
                "betriebsart": self.betriebsart.value,
                "gruende": self.gruende,
            },
            ensure_ascii=False,
        )


def _dauer(sekunden: float) -> str:
    return f"{sekunden:.0f} s"


class Ueberwachung:
    def __init__(
        self,
        einstellungen: UeberwachungEinstellungen,
        metriken: Metriken,
        sitzungen: Sitzungsfabrik,
        *,
        uhr: Callable[[], dt.datetime] = jetzt,
    ) -> None:
        self._einstellungen = einstellungen
        self._metriken = metriken
        self._sitzungen = sitzungen
        self._uhr = uhr
        self._betreiber: web.AppRunner | None = None

    async def lage(self) -> Lage:
        """Prüft alles, was `/ready` verlangt; frischt dabei die Zahlen des Ausgangskorbs auf."""
        grenzen = self._einstellungen
        gruende: list[str] = []
        art = self._metriken.betriebsart
        if art is not Betriebsart.AKTIV:
            gruende.append("Bereitschaft: eine andere Instanz ist aktiv")
        verzug = self._metriken.sync_verzug_sekunden()
        if verzug is None:
            gruende.append("noch kein Sync mit dem Homeserver gelungen")
        elif verzug > grenzen.sync_hoechstens_s:
            gruende.append(
                f"letzter gelungener Sync vor {_dauer(verzug)} "
                f"(erlaubt: {_dauer(grenzen.sync_hoechstens_s)})"
            )
        gruende += await self._ausgangskorb()
        return Lage(art, gruende)

    async def _ausgangskorb(self) -> list[str]:
        try:
            async with asyncio.timeout(DATENBANK_WARTEZEIT_S), self._sitzungen() as sitzung:
                offen, aeltester = await offener_ausgangskorb(sitzung)
        except Exception as fehler:
            # Jeder Fehler heißt hier: die Prüfung kann die Datenbank nicht lesen.
            self._metriken.datenbank_nicht_erreichbar("ueberwachung")
            art = "keine Antwort" if isinstance(fehler, TimeoutError) else kurzer_grund(fehler)
            return [f"Datenbank nicht erreichbar ({art})"]
        alter = 0.0 if aeltester is None else max(0.0, (self._uhr() - aeltester).total_seconds())
        self._metriken.ausgangskorb(offen, alter)
        grenze = self._einstellungen.ausgang_hoechstens_s
        if alter > grenze:
            return [
                f"Ausgangskorb hängt: {offen} offen, der älteste seit {_dauer(alter)} "
                f"(erlaubt: {_dauer(grenze)})"
            ]
        return []

    # --- HTTP ---------------------------------------------------------------------------------

    async def _gesund(self, _anfrage: web.Request) -> web.Response:
        return web.json_response({"lebt": True})

    async def _bereit(self, _anfrage: web.Request) -> web.Response:
        lage = await self.lage()
        return web.Response(
            text=lage.als_json(),
            status=200 if lage.bereit else 503,
            content_type="application/json",
        )

    async def _metriken_ausgeben(self, _anfrage: web.Request) -> web.Response:
        lage = await self.lage()  # frischt auch die Zahlen des Ausgangskorbs auf
        self._metriken.bereit.set(1 if lage.bereit else 0)
        daten = generate_latest(self._metriken.register)
        return web.Response(body=daten, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def starte(self) -> None:
        """Öffnet den Zugang; `KonfigurationFehler`, wenn Adresse oder Port nicht nutzbar sind."""
        anwendung = web.Application()
        anwendung.router.add_get("/health", self._gesund)
        anwendung.router.add_get("/ready", self._bereit)
        anwendung.router.add_get("/metrics", self._metriken_ausgeben)
        # Kein Zugriffsprotokoll: Prometheus fragt alle paar Sekunden.
        betreiber = web.AppRunner(anwendung, access_log=None, handle_signals=False)
        await betreiber.setup()
        adresse, port = self._einstellungen.adresse, self._einstellungen.port
        try:
            await web.TCPSite(betreiber, adresse, port).start()
        except BaseException as fehler:
            await betreiber.cleanup()
            if isinstance(fehler, OSError):
                grund = _BIND_GRUENDE.get(fehler.errno or 0, str(fehler))
                raise KonfigurationFehler(
                    [f"ueberwachung: {adresse}:{port} nicht nutzbar ({grund})"]
                ) from fehler
            raise
        self._betreiber = betreiber
        log.info("Überwachung erreichbar unter %s", self.url)
        if not ipaddress.ip_address(adresse).is_loopback:
            log.warning(
                "Überwachung auf %s ist ohne Anmeldung von außen erreichbar; "
                "bitte per Firewall auf den Prometheus-Server beschränken",
                adresse,
            )

    @property
    def url(self) -> str:
        """`http://adresse:port` – mit dem tatsächlichen Port, auch wenn 0 konfiguriert war."""
        if self._betreiber is None or not self._betreiber.addresses:
            raise RuntimeError("Überwachung läuft nicht")
        adresse, port = self._betreiber.addresses[0][:2]
        rechner = f"[{adresse}]" if ":" in adresse else adresse
        return f"http://{rechner}:{port}"

    async def stoppe(self) -> None:
        if self._betreiber is not None:
            await self._betreiber.cleanup()
            self._betreiber = None
