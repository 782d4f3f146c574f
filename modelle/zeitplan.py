"""Wann die Abfrage eines Themenfelds kommt: `mo 09:00`, `mo-fr 10:00`, `täglich 10:00` oder Cron.

Reines Python ohne Scheduler: die Bot-Schicht baut aus `trigger_felder()` einen
APScheduler-`CronTrigger` und legt die Zeitzone (Europe/Berlin) fest.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from modelle.werte import normalisiere

# Index = Wochentag mit 0 = Montag, wie `datetime.date.weekday()`.
WOCHENTAGE = ("mo", "di", "mi", "do", "fr", "sa", "so")
_LANGE_NAMEN = ("montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag")
_TAG_NACH_WORT: dict[str, int] = {
    **{kurz: i for i, kurz in enumerate(WOCHENTAGE)},
    **{lang: i for i, lang in enumerate(_LANGE_NAMEN)},
    "sonnabend": 5,
}
_TAEGLICH = "täglich"
LAENGSTENS = 200
# APScheduler zählt Wochentage ab Montag = 0; Namen sind eindeutig, Zahlen wären es nicht.
_APSCHEDULER_TAGE = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_UHRZEIT = re.compile(r"(?P<stunde>\d{1,2}):(?P<minute>\d{2})(?:\s*uhr)?")
_CRON_ZEICHEN = re.compile(r"[0-9*,/-]+")
_CRON_ELEMENT = re.compile(
    r"(?:(?P<stern>\*)|(?P<von>\d+)(?:-(?P<bis>\d+))?)(?:/(?P<schritt>\d+))?"
)

# Name, kleinster und größter Wert je Cron-Feld, in der Reihenfolge des Ausdrucks.
_CRON_FELDER = (
    ("Minute", 0, 59),
    ("Stunde", 0, 23),
    ("Tag", 1, 31),
    ("Monat", 1, 12),
    ("Wochentag", 0, 7),
)

_BEISPIELE = "z. B. „mo 09:00“, „mo,do 09:00“, „mo-fr 10:00“, „täglich 10:00“ oder Cron „0 9 * * 1“"


class ZeitplanFehler(ValueError):
    """Ein Zeitplan, der nicht stimmt; `grund` erklärt es ohne den Text zu wiederholen."""

    def __init__(self, text: str, grund: str) -> None:
        self.text = text.strip()
        self.grund = grund
        super().__init__(f"„{self.text}“: {grund}" if self.text else grund)


@dataclass(frozen=True)
class Zeitplan:
    """Ein geprüfter Zeitplan.

    Einfache Form: `wochentage` (0 = Montag, aufsteigend) und `uhrzeit` sind gesetzt,
    `cron` ist None. Cron-Form: `cron` enthält die fünf Felder (Minute, Stunde, Tag,
    Monat, Wochentag mit 0 und 7 = Sonntag), `wochentage` ist leer, `uhrzeit` None.
    """

    wochentage: tuple[int, ...] = ()
    uhrzeit: dt.time | None = None
    cron: tuple[str, str, str, str, str] | None = None

    def __post_init__(self) -> None:
        einfach = bool(self.wochentage) and self.uhrzeit is not None
        if einfach == (self.cron is not None) or (self.cron is not None and self.wochentage):
            raise ValueError("Zeitplan braucht entweder Wochentage und Uhrzeit oder Cron-Felder")

    @property
    def ist_cron(self) -> bool:
        return self.cron is not None

    @classmethod
    def aus_text(cls, text: str) -> Zeitplan:
        """Liest einen Zeitplan; `ZeitplanFehler` (ein `ValueError`) erklärt, was nicht stimmt."""
        if len(text) > LAENGSTENS:
            # Die Erklärungen wiederholen Teile des Texts, und `int()` verweigert Zahlen mit
            # mehr als 4300 Ziffern; kein echter Zeitplan kommt auch nur in die Nähe.
            raise ZeitplanFehler(
                text[:30] + "…", f"ein Zeitplan hat höchstens {LAENGSTENS} Zeichen"
            )
        teile = text.split()
        if not teile:
            raise ZeitplanFehler(text, f"Zeitplan ist leer ({_BEISPIELE})")
        if _CRON_ZEICHEN.fullmatch(teile[0]):
            if len(teile) == 5:
                return cls(cron=_pruefe_cron(teile))
            raise ZeitplanFehler(
                text,
                f"ein Cron-Ausdruck hat genau fünf Felder (Minute Stunde Tag Monat Wochentag), "
                f"hier sind es {len(teile)}",
            )
        return _einfache_form(text)

    def trigger_felder(self) -> dict[str, str]:
        """Die Argumente für `apscheduler.triggers.cron.CronTrigger(**felder, timezone=…)`.

        Wochentage werden als Namen übergeben: APScheduler 3 zählt ab Montag = 0, Cron ab
        Sonntag = 0 – `CronTrigger.from_crontab("0 9 * * 1")` liefe sonst dienstags.
        """
        if self.cron is not None:
            minute, stunde, tag, monat, wochentag = self.cron
            return {
                "minute": minute,
                "hour": stunde,
                "day": tag,
                "month": monat,
                "day_of_week": _apscheduler_tage(cron_wochentage(wochentag)),
            }
        assert self.uhrzeit is not None
        return {
            "minute": str(self.uhrzeit.minute),
            "hour": str(self.uhrzeit.hour),
            "day": "*",
            "month": "*",
            "day_of_week": _apscheduler_tage(self.wochentage),
        }

    def __str__(self) -> str:
        if self.cron is not None:
            return " ".join(self.cron)
        assert self.uhrzeit is not None
        return f"{_tage_als_text(self.wochentage)} {self.uhrzeit:%H:%M}"


def _einfache_form(text: str) -> Zeitplan:
    # „mo, do 09:00“ und „mo - fr 10:00“ sind gemeint wie „mo,do“ und „mo-fr“.
    eingabe = re.sub(r"\s*([,-])\s*", r"\1", normalisiere(text))
    treffer = re.fullmatch(r"(?P<tage>\S+)\s+(?P<uhrzeit>.+)", eingabe)
    if treffer is None:
        raise ZeitplanFehler(text, f"kein gültiger Zeitplan ({_BEISPIELE})")
    tage = _lies_tage(treffer["tage"], text.strip())
    uhrzeit = _lies_uhrzeit(treffer["uhrzeit"].strip(), text.strip())
    return Zeitplan(wochentage=tage, uhrzeit=uhrzeit)


def _lies_tage(angabe: str, ganzer_text: str) -> tuple[int, ...]:
    if angabe == normalisiere(_TAEGLICH):
        return tuple(range(7))
    tage: set[int] = set()
    for stueck in angabe.split(","):
        von_text, trenner, bis_text = stueck.partition("-")
        von = _tag(von_text, ganzer_text)
        if not trenner:
            tage.add(von)
            continue
        bis = _tag(bis_text, ganzer_text)
        if bis < von:
            raise ZeitplanFehler(
                ganzer_text,
                f"der Bereich „{stueck}“ läuft rückwärts (Woche beginnt montags, z. B. „mo-fr“)",
            )
        tage.update(range(von, bis + 1))
    return tuple(sorted(tage))


def _tag(wort: str, ganzer_text: str) -> int:
    tag = _TAG_NACH_WORT.get(wort.strip())
    if tag is None:
        raise ZeitplanFehler(
            ganzer_text,
            f"„{wort}“ ist kein Wochentag (erlaubt: {' '.join(WOCHENTAGE)} oder „täglich“)",
        )
    return tag


def _lies_uhrzeit(angabe: str, ganzer_text: str) -> dt.time:
    treffer = _UHRZEIT.fullmatch(angabe)
    if treffer is None:
        raise ZeitplanFehler(ganzer_text, f"„{angabe}“ ist keine Uhrzeit (z. B. „09:00“)")
    stunde, minute = int(treffer["stunde"]), int(treffer["minute"])
    if stunde > 23 or minute > 59:
        raise ZeitplanFehler(ganzer_text, f"die Uhrzeit „{angabe}“ gibt es nicht")
    return dt.time(stunde, minute)


def _tage_als_text(tage: tuple[int, ...]) -> str:
    if len(tage) == 7:
        return _TAEGLICH
    # Aufeinanderfolgende Tage ab drei als Bereich: „mo-fr“ liest sich besser als fünf Namen.
    stuecke: list[str] = []
    lauf: list[int] = []
    for tag in [*tage, None]:
        if tag is not None and lauf and tag == lauf[-1] + 1:
            lauf.append(tag)
            continue
        if len(lauf) >= 3:
            stuecke.append(f"{WOCHENTAGE[lauf[0]]}-{WOCHENTAGE[lauf[-1]]}")
        else:
            stuecke.extend(WOCHENTAGE[t] for t in lauf)
        lauf = [tag] if tag is not None else []
    return ",".join(stuecke)


def _pruefe_cron(felder: list[str]) -> tuple[str, str, str, str, str]:
    ausdruck = " ".join(felder)
    for feld, (name, kleinster, groesster) in zip(felder, _CRON_FELDER, strict=True):
        cron_werte(feld, name, kleinster, groesster, ausdruck)
    minute, stunde, tag, monat, wochentag = felder
    # Cron löst aus, wenn Tag ODER Wochentag passt, APScheduler nur, wenn beide passen.
    if tag != "*" and wochentag != "*":
        raise ZeitplanFehler(
            ausdruck,
            "Tag und Wochentag zugleich einzuschränken wird nicht unterstützt "
            "(eines von beiden muss „*“ sein)",
        )
    return (minute, stunde, tag, monat, wochentag)


def cron_werte(feld: str, name: str, kleinster: int, groesster: int, ausdruck: str) -> set[int]:
    werte: set[int] = set()
    for element in feld.split(","):
        treffer = _CRON_ELEMENT.fullmatch(element)
        if treffer is None:
            raise ZeitplanFehler(
                ausdruck,
                f"Feld {name}: „{element}“ ist ungültig "
                f"(erlaubt: Zahl, *, Bereich a-b, Liste a,b, Schritt /n)",
            )
        if treffer["stern"]:
            von, bis = kleinster, groesster
        else:
            von = int(treffer["von"])
            bis = int(treffer["bis"]) if treffer["bis"] is not None else von
            for zahl in (von, bis):
                if not kleinster <= zahl <= groesster:
                    raise ZeitplanFehler(
                        ausdruck,
                        f"Feld {name}: {zahl} liegt nicht zwischen {kleinster} und {groesster}",
                    )
            if bis < von:
                raise ZeitplanFehler(
                    ausdruck, f"Feld {name}: der Bereich „{element}“ läuft rückwärts"
                )
        schritt = 1
        if treffer["schritt"] is not None:
            schritt = int(treffer["schritt"])
            if schritt < 1:
                raise ZeitplanFehler(
                    ausdruck, f"Feld {name}: die Schrittweite muss mindestens 1 sein"
                )
            if not treffer["stern"] and treffer["bis"] is None:
                raise ZeitplanFehler(
                    ausdruck,
                    f"Feld {name}: ein Schritt braucht * oder einen Bereich davor "
                    f"(z. B. „*/{schritt}“ oder „{von}-{groesster}/{schritt}“)",
                )
        werte.update(range(von, bis + 1, schritt))
    return werte


def cron_wochentage(feld: str) -> tuple[int, ...]:
    """Cron-Wochentage (0 und 7 = Sonntag) als Tage ab Montag = 0."""
    cron_tage = cron_werte(feld, "Wochentag", 0, 7, feld)
    return tuple(sorted({(tag - 1) % 7 for tag in cron_tage}))


def _apscheduler_tage(tage: tuple[int, ...]) -> str:
    if len(tage) == 7:
        return "*"
    return ",".join(_APSCHEDULER_TAGE[tag] for tag in tage)
