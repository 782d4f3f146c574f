"""Wie Befehle deklariert, gefunden und beantwortet werden.

Ein Befehlsmodul deklariert seinen Befehl mit `@befehl(...)`; das Ergebnis ist ein
`Befehl`-Objekt (kein globales Register). `bot/` baut daraus eine `Registratur` und
reicht sie jeder Anfrage mit. Ein Handler bekommt eine `Anfrage` und getypte Argumente
und gibt eine `Antwort` zurück – nie ein Matrix-Objekt.
"""

from __future__ import annotations

import datetime as dt
import difflib
import enum
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from befehle.nachricht import Code, Nachricht, Teil, gekuerzt
from modelle.stand import Felduebersicht, Projektstand, feld_uebersicht, letzte_meldungen
from modelle.verzeichnis import Verzeichnis, VerzeichnisSpeicher
from modelle.werte import normalisiere
from modelle.zeitplan import Zeitplan

A = TypeVar("A")


class Benutzerfehler(Exception):
    """Ein erwartetes Problem; `nachricht` wird der Person so gezeigt."""

    def __init__(self, nachricht: Nachricht | str) -> None:
        if isinstance(nachricht, str):
            nachricht = Nachricht().absatz(nachricht)
        super().__init__(nachricht.text)
        self.nachricht = nachricht

    def antwort(self) -> Antwort:
        """Die Antwort, die die Person darauf bekommt."""
        return Antwort(self.nachricht)


class Argumentfehler(Benutzerfehler):
    """Die Argumente passen nicht: Antwort ist der Grund plus Aufruf und Beispiel."""


class Verweigert(Benutzerfehler):
    """Die Person darf das nicht; die Nachricht sagt höflich, wer es darf."""

    def antwort(self) -> Antwort:
        return Antwort(self.nachricht, absage=True)


class Berechtigung(enum.Enum):
    ALLE = "alle"
    # Pat*innen, Koordinator*innen und Stabsstelle; welches Feld, prüft der Handler.
    MELDENDE = "meldende"
    STABSSTELLE = "stabsstelle"


@dataclass(frozen=True, slots=True)
class Betrieb:
    """Die Vorgaben aus der Konfiguration, die Befehle kennen müssen (z. B. `!zeitplan`)."""

    abfrage: Zeitplan = field(default_factory=lambda: Zeitplan.aus_text("mo 09:00"))
    wochenbericht: Zeitplan = field(default_factory=lambda: Zeitplan.aus_text("fr 14:00"))
    erinnerung: Zeitplan = field(default_factory=lambda: Zeitplan.aus_text("täglich 10:00"))
    nachholfrist: dt.timedelta = dt.timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Anfrage:
    """Alles, was ein Handler über die Anfrage weiß."""

    absender: str
    raum_id: str
    jetzt: dt.datetime
    zeitzone: ZoneInfo
    praefix: str
    sitzung: AsyncSession
    verzeichnis: Verzeichnis
    registratur: Registratur
    event_id: str | None = None
    betrieb: Betrieb = field(default_factory=Betrieb)
    # Das Lagebild im Speicher – nur, wenn der Befehl nichts schreibt (`bot/verarbeitung.py`).
    lagebild: VerzeichnisSpeicher | None = None

    async def letzte_meldungen(self, themenfeld_id: int) -> list[Projektstand]:
        """Die aktiven Projekte des Felds mit ihrer neuesten Meldung (`modelle.stand`), aus dem
        Lagebild, wenn es eins gibt."""
        if self.lagebild is None:
            return await letzte_meldungen(self.sitzung, themenfeld_id)
        return await self.lagebild.letzte_meldungen(self.sitzung, themenfeld_id)

    async def feld_uebersicht(self) -> list[Felduebersicht]:
        """Je aktivem Themenfeld die Ampelzahlen (`modelle.stand`), aus dem Lagebild, wenn es
        eins gibt."""
        if self.lagebild is None:
            return await feld_uebersicht(self.sitzung)
        return await self.lagebild.feld_uebersicht(self.sitzung)

    @property
    def raum_feld_id(self) -> int | None:
        """Das Themenfeld, dessen Raum dies ist – falls es einer ist."""
        feld = self.verzeichnis.feld_von_raum(self.raum_id)
        return feld.id if feld else None


@dataclass(frozen=True, slots=True)
class Bild:
    """Ein Bild (PNG) für einen Thread, z. B. das Ampeldiagramm des Wochenberichts."""

    daten: bytes
    dateiname: str
    beschreibung: str
    mimetype: str = "image/png"


@dataclass(frozen=True, slots=True)
class Folge:
    """Eine weitere Nachricht im Thread unter der Hauptnachricht."""

    nachricht: Nachricht | None = None
    projekte: tuple[str, ...] = ()
    bild: Bild | None = None


@dataclass(frozen=True, slots=True)
class Antwort:
    """Was der Bot auf eine Anfrage tut: eine Nachricht und/oder eine Reaktion darauf."""

    nachricht: Nachricht | None = None
    # Reaktion auf die Nachricht der Person, z. B. "✅" als Quittung.
    reaktion: str | None = None
    # Maschinenlesbare Projektbezüge: Antworten auf diese Nachricht gelten diesen Projekten.
    projekte: tuple[str, ...] = ()
    # Details im Thread unter der Nachricht, damit die Zeitleiste lesbar bleibt.
    thread: tuple[Folge, ...] = ()
    # Eine Absage (`Verweigert`): `bot/` sendet davon höchstens eine je Person und Minute.
    absage: bool = False


Handler = Callable[[Anfrage, A], Awaitable[Antwort]]


@dataclass(frozen=True, slots=True)
class Befehl(Generic[A]):
    name: str
    aliase: tuple[str, ...]
    syntax: str
    kurz: str
    hilfe: str
    beispiele: tuple[str, ...]
    abschnitt: str
    berechtigung: Berechtigung
    lese_argumente: Callable[[str], A]
    ausfuehren: Handler[A]
    # Liest nur (schreibt nichts in die Datenbank): `bot/` darf die Antwort senden, bevor es
    # den Aufruf als behandelt vermerkt (siehe `bot/verarbeitung.py`, „Sofort antworten“).
    nur_lesend: bool = False

    def aufruf(self, praefix: str) -> str:
        return f"{praefix}{self.name} {self.syntax}".rstrip()

    def verwendung(self, praefix: str, grund: str) -> Nachricht:
        """Die Antwort auf falsche Argumente: Grund, Aufruf und Beispiel."""
        nachricht = Nachricht().absatz(grund)
        nachricht.absatz(["Aufruf: ", Code(self.aufruf(praefix))])
        if self.beispiele:
            nachricht.absatz(["Beispiel: ", Code(f"{praefix}{self.beispiele[0]}")])
        return nachricht


def befehl(
    *,
    name: str,
    kurz: str,
    hilfe: str,
    abschnitt: str,
    argumente: Callable[[str], A],
    syntax: str = "",
    aliase: Sequence[str] = (),
    beispiele: Sequence[str] = (),
    berechtigung: Berechtigung = Berechtigung.ALLE,
    nur_lesend: bool = False,
) -> Callable[[Handler[A]], Befehl[A]]:
    """Deklariert einen Befehl; der dekorierte Handler wird zum `Befehl`-Objekt."""

    def deklariere(handler: Handler[A]) -> Befehl[A]:
        return Befehl(
            name=name,
            aliase=tuple(aliase),
            syntax=syntax,
            kurz=kurz,
            hilfe=hilfe,
            beispiele=tuple(beispiele),
            abschnitt=abschnitt,
            berechtigung=berechtigung,
            lese_argumente=argumente,
            ausfuehren=handler,
            nur_lesend=nur_lesend,
        )

    return deklariere


def keine_argumente(text: str) -> None:
    if text.strip():
        raise Argumentfehler("Dieser Befehl braucht keine Angaben.")


def ein_optionales_wort(text: str) -> str | None:
    woerter = text.split()
    if len(woerter) > 1:
        raise Argumentfehler("Bitte nur einen Namen angeben.")
    return woerter[0] if woerter else None


@dataclass(slots=True)
class Registratur:
    """Findet Befehle nach Name, Alias oder eindeutigem Anfang."""

    befehle: list[Befehl[Any]]
    _namen: dict[str, Befehl[Any]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for b in self.befehle:
            for name in (b.name, *b.aliase):
                schluessel = normalisiere(name)
                if schluessel in self._namen:
                    raise ValueError(f"Befehlsname doppelt vergeben: {name}")
                self._namen[schluessel] = b

    def finde(self, name: str) -> Befehl[Any]:
        schluessel = normalisiere(name)
        if schluessel in self._namen:
            return self._namen[schluessel]
        passende = {b.name: b for n, b in self._namen.items() if n.startswith(schluessel)}
        if len(passende) == 1:
            return next(iter(passende.values()))
        if len(passende) > 1:
            raise Benutzerfehler(f"„{name}“ ist mehrdeutig: " + ", ".join(sorted(passende)) + ".")
        aehnlich = difflib.get_close_matches(schluessel, self._namen, n=1)
        raise UnbekannterBefehl(name, self._namen[aehnlich[0]].name if aehnlich else None)

    def sichtbar_fuer(self, darf: Callable[[Berechtigung], bool]) -> Iterable[Befehl[Any]]:
        return (b for b in self.befehle if darf(b.berechtigung))


class UnbekannterBefehl(Benutzerfehler):
    """Kein Befehl heißt so; `vorschlag` ist der Name des ähnlichsten, wenn einer ähnelt."""

    def __init__(self, name: str, vorschlag: str | None) -> None:
        self.vorschlag = vorschlag
        self.satz = f"Den Befehl „{gekuerzt(name)}“ kenne ich nicht."
        super().__init__(self.satz)

    def mit_wegweiser(self, praefix: str, *, vorschlag_vorweg: str = "") -> Benutzerfehler:
        """Derselbe Fehler mit „Meinten Sie `!status`?“ und dem Weg zu allen Befehlen;
        `vorschlag_vorweg="hilfe "` schlägt `!hilfe status` vor."""
        zeile: list[Teil] = [self.satz]
        if self.vorschlag is not None:
            zeile += [" Meinten Sie ", Code(f"{praefix}{vorschlag_vorweg}{self.vorschlag}"), "?"]
        zeile += [" Alle Befehle: ", Code(f"{praefix}hilfe")]
        return Benutzerfehler(Nachricht().absatz(zeile))
