"""Je Absender*in gedrosselt: Wer den Bot flutet, wird eine Weile übergangen; Absagen und der
Hinweis „nicht entschlüsselbar“ kommen höchstens einmal je Minute.

Warum: Die Verarbeitung behandelt Ereignisse nacheinander, jedes in einer eigenen Transaktion,
und der Zusteller sendet jede Antwort einzeln. 200 Befehle einer Person hielten so alle
anderen sekundenlang auf, und wer ohne Berechtigung 200-mal `!meldung` schickt, bekäme 200
Absagen. Die Drossel entscheidet im Speicher, ohne Datenbank: Ein übergangenes Ereignis kostet
Mikrosekunden, die Flut einer Person hält niemanden auf.

Die Grenzen (ein Eimer mit Marken je Person)
--------------------------------------------
- Jedes Ereignis einer Person nimmt eine Marke aus ihrem Eimer, auch Plauderei (sie kostet die
  Verarbeitung ebenso eine Transaktion). Der Eimer fasst `STOSS` (20) Marken; je Sekunde kommt
  eine zurück (`JE_SEKUNDE`). Kein Mensch tippt 20 Befehle in wenigen Sekunden, und auf Dauer
  schneller als eine Nachricht je Sekunde auch nicht: Wer alle 43 Zeilen einer großen Abfrage
  mit 🟢 bestätigt, braucht dafür mit Element gut eine Minute – der Eimer leert sich dabei nicht.
- Ist der Eimer leer, wird die Person `PAUSE` (60 s) übergangen. Bleibt er leer, weil die Flut
  anhält, verlängert jedes weitere Ereignis die Pause; wer nach der Warnung nur noch ab und zu
  etwas schickt, ist nach einer Minute wieder dran.
- Die erste Nachricht der Pause, die den Bot meint (Befehl, Meldung, Ampel-Reaktion), bekommt
  einmal „Bitte etwas langsamer …“; alles Weitere bleibt unbeantwortet (im Protokoll steht es).
- Absagen (`Antwort.absage`) und „nicht entschlüsselbar“ je Person höchstens eine je `RUHE`
  (60 s); weitere bleiben unbeantwortet und stehen im Protokoll.

Die Uhr ist der Zeitpunkt des Ereignisses (den `bot.verarbeitung` auf den Empfang deckelt),
nicht der Augenblick der Verarbeitung: Holt der Bot nach einem Ausfall nach, was in der
Zwischenzeit kam, zählt jedes Ereignis zu seiner Zeit – die 43 Tipps auf 🟢, die jemand
während einer Viertelstunde Ausfall gab, sind keine Flut, auch wenn sie auf einmal ankommen.
Der Preis: Ein fremder Server, der Zeitstempel fälscht (gestaffelt in der Vergangenheit),
entgeht der Drossel; in die Zukunft datieren kann er nicht. Je Person läuft die Uhr nur vorwärts.

Das Gedächtnis ist der Speicher des Prozesses (höchstens `GEDAECHTNIS` Personen, die am
längsten stillen fallen heraus). Was ein übergangenes Ereignis nach einem Neustart bedeutet,
steht bei `bot.verarbeitung`.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, field

STOSS = 20
JE_SEKUNDE = 1.0
PAUSE = 60.0
RUHE = 60.0
GEDAECHTNIS = 10_000


class Urteil(enum.Enum):
    BEHANDELN = "behandeln"
    # Statt einer Antwort einmal „Bitte etwas langsamer …“.
    BREMSEN = "bremsen"
    UEBERGEHEN = "uebergehen"


class Anlass(enum.Enum):
    """Was höchstens einmal je `RUHE` an dieselbe Person geht."""

    ABSAGE = "absage"
    UNLESBAR = "unlesbar"


@dataclass
class _Person:
    marken: float
    stand: float  # wann `marken` zuletzt nachgefüllt wurde (Sekunden, Zeitpunkt der Ereignisse)
    uebergangen_bis: float | None = None
    gebremst: bool = False  # „Bitte etwas langsamer“ in dieser Pause schon gesagt
    # Je Anlass: wann zuletzt, und für welches Ereignis (ein wiederholter Versuch desselben
    # Ereignisses darf noch einmal, sonst verlöre ihn ein Datenbankfehler ganz).
    zuletzt: dict[Anlass, tuple[float, str]] = field(default_factory=dict)


class Drossel:
    def __init__(
        self,
        *,
        stoss: int | None = STOSS,
        je_sekunde: float = JE_SEKUNDE,
        pause: float = PAUSE,
        ruhe: float = RUHE,
        gedaechtnis: int = GEDAECHTNIS,
    ) -> None:
        """`stoss=None`: keine Flutgrenze (Absagen und Hinweise bleiben begrenzt)."""
        self._stoss = stoss
        self._je_sekunde = je_sekunde
        self.pause = pause
        self._ruhe = ruhe
        self._gedaechtnis = gedaechtnis
        self._personen: OrderedDict[str, _Person] = OrderedDict()

    @property
    def gemerkte(self) -> int:
        """Wie viele Absender*innen die Drossel gerade kennt (höchstens `gedaechtnis`)."""
        return len(self._personen)

    def ereignis(self, absender: str, jetzt: float, *, meint_den_bot: bool) -> Urteil:
        """Zählt ein Ereignis der Person (`jetzt`: sein Zeitpunkt in Sekunden) und sagt, ob es
        behandelt wird."""
        if self._stoss is None:
            return Urteil.BEHANDELN
        person = self._person(absender, jetzt)
        jetzt = max(jetzt, person.stand)
        person.marken = min(self._stoss, person.marken + (jetzt - person.stand) * self._je_sekunde)
        person.stand = jetzt
        if person.uebergangen_bis is not None and jetzt >= person.uebergangen_bis:
            person.uebergangen_bis = None
            person.gebremst = False
        if person.marken >= 1:
            person.marken -= 1
            if person.uebergangen_bis is None:
                return Urteil.BEHANDELN
        else:
            # Leer: die Flut hält an, die Pause beginnt oder verlängert sich.
            person.uebergangen_bis = jetzt + self.pause
        if meint_den_bot and not person.gebremst:
            person.gebremst = True
            return Urteil.BREMSEN
        return Urteil.UEBERGEHEN

    def einmal(self, absender: str, anlass: Anlass, ereignis: str, jetzt: float) -> bool:
        """Darf die Person zu diesem Ereignis (`jetzt`: sein Zeitpunkt in Sekunden) eine Antwort
        dieses Anlasses bekommen? Vermerkt sie dann."""
        person = self._person(absender, jetzt)
        vorige = person.zuletzt.get(anlass)
        if vorige is not None and jetzt - vorige[0] < self._ruhe and vorige[1] != ereignis:
            return False
        person.zuletzt[anlass] = (jetzt, ereignis)
        return True

    def _person(self, absender: str, jetzt: float) -> _Person:
        person = self._personen.get(absender)
        if person is None:
            person = self._personen[absender] = _Person(marken=self._stoss or 0, stand=jetzt)
            if len(self._personen) > self._gedaechtnis:
                self._personen.popitem(last=False)
        else:
            self._personen.move_to_end(absender)
        return person
