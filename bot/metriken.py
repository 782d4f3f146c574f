"""Was der Bot über seinen Betrieb zählt, für Prometheus (`/metrics`, siehe `bot/ueberwachung.py`).

Je Bot ein eigenes `CollectorRegistry`, gebaut in `bot/app.py` und hinuntergereicht – keine
Sammler, die der Import in ein globales Register legt. Gezählt wird an den Grenzen in `bot/`
(Verarbeitung, Zusteller, Sync-Schleife, Planer); `befehle/` und `modelle/` wissen davon nichts.

Der Ausgangskorb (Tiefe, Alter des ältesten offenen Eintrags) wird nicht mitgezählt, sondern
bei jeder Abfrage in der Datenbank nachgesehen (`Ueberwachung`): die Datenbank ist die Quelle,
auch für das, was eine andere Instanz oder ein früherer Lauf dort ließ.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import Literal, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from modelle.tabellen import Versandart


class Betriebsart(enum.Enum):
    """Ob diese Instanz arbeitet oder als Bereitschaft wartet, bis eine andere ausfällt."""

    AKTIV = "aktiv"
    BEREITSCHAFT = "bereitschaft"


class Ergebnis(enum.Enum):
    """Wie ein Befehl ausging – die Werte des Labels `ergebnis`."""

    OK = "ok"
    BENUTZERFEHLER = "benutzerfehler"  # falsche Argumente, nichts gefunden …
    VERWEIGERT = "verweigert"  # die Person darf das nicht
    UNBEKANNT = "unbekannt"  # kein solcher Befehl
    INTERNER_FEHLER = "interner_fehler"  # „Interner Fehler (Ref. …)“


# Die Teile des Bots, deren Datenbankfehler gezählt werden (Label `teil`).
Teil = Literal["verarbeitung", "zusteller", "sync", "planer", "ueberwachung"]
TEILE: tuple[Teil, ...] = get_args(Teil)

# Unbekannte Befehlsnamen zählen unter einem Namen: sonst legte jeder Tippfehler eine Zeitreihe an.
UNBEKANNTER_BEFEHL = "(unbekannt)"

# Sekunden vom Empfang bis zur gespeicherten Antwort; ein Datenbankausfall darf bis 30 s dauern.
_ANTWORTZEIT_STUFEN = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metriken:
    """Die Zähler eines Bots. `uhr` (monoton, Sekunden) ist für Tests austauschbar."""

    def __init__(
        self,
        register: CollectorRegistry | None = None,
        *,
        uhr: Callable[[], float] = time.monotonic,
    ) -> None:
        self.register = CollectorRegistry() if register is None else register
        self._uhr = uhr
        self._letzter_sync: float | None = None
        self._betriebsart = Betriebsart.AKTIV
        r = self.register
        self.befehle = Counter(
            "klimabot_befehle",
            "Beantwortete Befehle nach Name und Ergebnis",
            ["befehl", "ergebnis"],
            registry=r,
        )
        self.antwortzeit = Histogram(
            "klimabot_antwortzeit_sekunden",
            "Vom Empfang eines Befehls bis zu seiner gespeicherten Antwort",
            buckets=_ANTWORTZEIT_STUFEN,
            registry=r,
        )
        self.ausgang_offen = Gauge(
            "klimabot_ausgang_offen", "Offene Einträge im Ausgangskorb", registry=r
        )
        self.ausgang_aeltester = Gauge(
            "klimabot_ausgang_aeltester_sekunden",
            "Alter des ältesten offenen Eintrags im Ausgangskorb (0: keiner offen)",
            registry=r,
        )
        self.sync_verzug = Gauge(
            "klimabot_sync_verzug_sekunden",
            "Sekunden seit dem letzten gelungenen Sync (-1: noch keiner)",
            registry=r,
        )
        self.sync_verzug.set_function(self._sync_verzug_oder_minus_eins)
        self.geplant = Counter(
            "klimabot_geplant",
            "Geplante Nachrichten nach Art (abfrage, wochenbericht, erinnerung) und Ergebnis",
            ["art", "ergebnis"],
            registry=r,
        )
        self.datenbankfehler = Counter(
            "klimabot_datenbankfehler",
            "Datenbank nicht erreichbar, nach Teil des Bots",
            ["teil"],
            registry=r,
        )
        self.unentschluesselbar = Counter(
            "klimabot_nicht_entschluesselbar",
            "Ereignisse, deren Schlüssel fehlte",
            registry=r,
        )
        self.aktiv = Gauge(
            "klimabot_aktiv", "1: diese Instanz arbeitet, 0: Bereitschaft", registry=r
        )
        self.aktiv.set(1)
        # Jede Zeitreihe, auf die eine Alarmregel schaut, gibt es von Anfang an mit 0: sonst
        # sieht `increase()` den ersten Fall nicht (er wäre ihr erster Wert).
        for art in Versandart:
            for ergebnis in ("eingereiht", "ausgelassen"):
                self.geplant.labels(art=art.value, ergebnis=ergebnis)
        for teil in TEILE:
            self.datenbankfehler.labels(teil=teil)
        self.bereit = Gauge(
            "klimabot_bereit",
            "1: bereit wie /ready (bei jeder Abfrage von /metrics geprüft), 0: nicht",
            registry=r,
        )

    # --- Betriebsart (die Bereitschaft stellt sie um) ------------------------------------------

    @property
    def betriebsart(self) -> Betriebsart:
        return self._betriebsart

    @betriebsart.setter
    def betriebsart(self, art: Betriebsart) -> None:
        self._betriebsart = art
        self.aktiv.set(1 if art is Betriebsart.AKTIV else 0)

    # --- gezählt an den Grenzen ---------------------------------------------------------------

    def befehl(self, name: str, ergebnis: Ergebnis, sekunden: float) -> None:
        self.befehle.labels(befehl=name, ergebnis=ergebnis.value).inc()
        self.antwortzeit.observe(sekunden)

    def sync_gelungen(self) -> None:
        self._letzter_sync = self._uhr()

    def sync_verzug_sekunden(self) -> float | None:
        """Sekunden seit dem letzten gelungenen Sync; `None`: noch keiner."""
        if self._letzter_sync is None:
            return None
        return max(0.0, self._uhr() - self._letzter_sync)

    def _sync_verzug_oder_minus_eins(self) -> float:
        verzug = self.sync_verzug_sekunden()
        return -1.0 if verzug is None else verzug

    def geplant_eingereiht(self, art: str) -> None:
        self.geplant.labels(art=art, ergebnis="eingereiht").inc()

    def geplant_ausgelassen(self, art: str) -> None:
        self.geplant.labels(art=art, ergebnis="ausgelassen").inc()

    def datenbank_nicht_erreichbar(self, teil: Teil) -> None:
        self.datenbankfehler.labels(teil=teil).inc()

    def nicht_entschluesselbar(self) -> None:
        self.unentschluesselbar.inc()

    def ausgangskorb(self, offen: int, aeltester_sekunden: float) -> None:
        self.ausgang_offen.set(offen)
        self.ausgang_aeltester.set(aeltester_sekunden)
