"""Die Szene der Demo: wer was schreibt, worauf gewartet wird, und die lesbare Mitschrift.

Die Szene läuft über echte Client-Anfragen der Menschen (`demo.mensch.Mensch`), genau wie
aus Element; gewartet wird jeweils auf die passende Antwort des Bots, nie auf eine feste Zeit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.planer import Planer
from demo.mensch import Mensch, NichtGesehen, Rohereignis, bezug, ist_antwort, ist_reaktion
from modelle.strukturdatei import Struktur, ThemenfeldAngabe
from modelle.termine import naechster_termin, verschiebe_auf_arbeitstag
from modelle.zeitplan import Zeitplan

# So lange darf der Bot für eine Antwort brauchen, bevor die Demo aufgibt.
ANTWORTFRIST = 20.0


class DemoFehler(Exception):
    """Die Demo kann nicht weiter; die Meldung sagt auf Deutsch, woran es liegt."""


# --- Die Mitschrift --------------------------------------------------------------------------


class Mitschrift:
    """Schreibt lesbar mit, was im Chat passiert – sofort, auch wenn die Ausgabe eine Pipe ist."""

    EINZUG = "    "

    def __init__(self, ausgabe: TextIO) -> None:
        self._ausgabe = ausgabe

    def zeile(self, text: str = "") -> None:
        print(text, file=self._ausgabe, flush=True)

    def ueberschrift(self, text: str) -> None:
        self.zeile()
        self.zeile(f"── {text} " + "─" * max(3, 72 - len(text)))

    def schritt(self, nummer: int, text: str) -> None:
        self.zeile()
        self.zeile(f"{nummer}. {text}")

    def gesagt(self, raum: str, wer: str, text: str) -> None:
        self.zeile(f"[{raum}] {wer}: {text}")

    def reagiert(self, raum: str, wer: str, schluessel: str, worauf: str) -> None:
        self.zeile(f"[{raum}] {wer} reagiert mit {schluessel} auf {worauf}")

    def bot_schreibt(self, ereignis: Rohereignis, *, im_thread: bool = False) -> None:
        body = str(ereignis.get("content", {}).get("body", ""))
        zeilen = body.splitlines() or [""]
        wer = "Klimabot (im Thread): " if im_thread else "Klimabot: "
        self.zeile(f"{self.EINZUG}{wer}{zeilen[0]}")
        for zeile in zeilen[1:]:
            self.zeile(f"{self.EINZUG}{' ' * len(wer)}{zeile}".rstrip())

    def bot_reagiert(self, schluessel: str) -> None:
        self.zeile(f"{self.EINZUG}Klimabot reagiert mit {schluessel}")


# --- Die Szene -------------------------------------------------------------------------------


@dataclass
class Buehne:
    bot_id: str
    raeume: dict[str, str]  # Raumadresse → Raum-ID
    raum_stabsstelle: str  # Raum-ID
    raumnamen: dict[str, str]  # Raum-ID → Anzeigename
    mitschrift: Mitschrift
    bot_aufgabe: asyncio.Task[None]
    # Für die Abfrage: der Planer mit gestellter Uhr und die Projekte je Raum, in Reihenfolge.
    planer_zu: Callable[[dt.datetime], Planer]
    naechster_montag: dt.datetime
    projekte_im_raum: dict[str, list[str]]

    def lebt(self) -> bool:
        return not self.bot_aufgabe.done()

    async def _warte(
        self, person: Mensch, passt: Callable[[Rohereignis], bool], worauf: str
    ) -> Rohereignis:
        """Bis die Person ein passendes Ereignis sieht; `DemoFehler`, wenn keins kam."""
        try:
            return await person.warte_auf(
                lambda _raum, ereignis: passt(ereignis),
                frist=ANTWORTFRIST,
                was=worauf,
                solange=self.lebt,
            )
        except NichtGesehen:
            if not self.lebt():
                raise DemoFehler(f"Der Klimabot läuft nicht mehr (wartete auf {worauf}).") from None
            raise DemoFehler(
                f"Der Klimabot hat binnen {ANTWORTFRIST:.0f} s nicht {worauf}."
            ) from None

    async def frage(self, person: Mensch, raum_id: str, text: str) -> Rohereignis:
        """Person schreibt; zurück kommt die Antwort des Bots (und wird mitgeschrieben)."""
        self.mitschrift.gesagt(self.raumnamen[raum_id], person.name, text)
        event_id = await person.sende(raum_id, text)
        antwort = await self._warte(
            person,
            lambda e: ist_antwort(e, von=self.bot_id, auf=event_id),
            f"auf „{text}“ geantwortet",
        )
        self.mitschrift.bot_schreibt(antwort)
        return antwort

    async def melde(self, person: Mensch, raum_id: str, text: str) -> None:
        """Eine Meldung per Befehl: Der Bot quittiert mit einer Reaktion (oder erklärt sich)."""
        self.mitschrift.gesagt(self.raumnamen[raum_id], person.name, text)
        event_id = await person.sende(raum_id, text)
        quittung = await self._warte(
            person,
            lambda e: (
                ist_reaktion(e, von=self.bot_id, auf=event_id)
                or ist_antwort(e, von=self.bot_id, auf=event_id)
            ),
            f"„{text}“ quittiert",
        )
        if quittung.get("type") == "m.reaction":
            self.mitschrift.bot_reagiert(str(bezug(quittung).get("key")))
        else:
            self.mitschrift.bot_schreibt(quittung)

    async def tippe(
        self, person: Mensch, raum_id: str, nachricht: Rohereignis, schluessel: str
    ) -> None:
        """Eine Reaktion auf eine Nachricht des Bots; er bestätigt mit einer Antwort darauf."""
        ziel = str(nachricht["event_id"])
        self.mitschrift.reagiert(
            self.raumnamen[raum_id], person.name, schluessel, "die Nachricht des Klimabots"
        )
        await person.reagiere(raum_id, ziel, schluessel)
        bestaetigung = await self._warte(
            person,
            lambda e: ist_antwort(e, von=self.bot_id, auf=ziel),
            f"die Reaktion {schluessel} bestätigt",
        )
        self.mitschrift.bot_schreibt(bestaetigung)

    async def abfrage(
        self, person: Mensch, raum_id: str, zeitpunkt: dt.datetime
    ) -> tuple[Rohereignis, dict[str, Rohereignis]]:
        """Löst die Abfrage zum Zeitpunkt aus; zurück kommen Kopf und die Zeile je Projekt."""
        # Nach der Vorgeschichte kann der Bot beim Start schon eine fällige Abfrage gesendet
        # haben; gemeint ist die, die jetzt kommt.
        bekannt = {e.get("event_id") for _raum, e in person.gesehen}
        await self.planer_zu(zeitpunkt).pruefe()
        kopf = await self._warte(
            person,
            lambda e: (
                _vom_bot(e, self.bot_id, "Fortschrittsabfrage") and e.get("event_id") not in bekannt
            ),
            "die Abfrage gesendet",
        )
        self.mitschrift.bot_schreibt(kopf)
        zeilen: dict[str, Rohereignis] = {}
        for slug in self.projekte_im_raum[raum_id]:
            zeile = await self._warte(
                person,
                _projektzeile(self.bot_id, slug, str(kopf["event_id"])),
                f"die Zeile zu {slug} gesendet",
            )
            self.mitschrift.bot_schreibt(zeile, im_thread=True)
            zeilen[slug] = zeile
        return kopf, zeilen

    async def antworte_im_thread(
        self, person: Mensch, raum_id: str, kopf: Rohereignis, zeile: Rohereignis, text: str
    ) -> None:
        self.mitschrift.gesagt(self.raumnamen[raum_id], f"{person.name} (im Thread)", text)
        event_id = await person.sende(
            raum_id, text, thread=str(kopf["event_id"]), antwort_auf=str(zeile["event_id"])
        )
        await self._warte(
            person,
            lambda e: ist_reaktion(e, von=self.bot_id, auf=event_id),
            "die Antwort im Thread quittiert",
        )
        self.mitschrift.bot_reagiert("✅")

    async def wochenbericht(self, person: Mensch, raum_id: str, felder: Sequence[str]) -> None:
        """`!bericht`; mitgeschrieben werden der Kopf, die Nachrichten der `felder` (Namen) aus
        dem Thread und das Diagramm."""
        kopf = await self.frage(person, raum_id, "!bericht")
        for name in felder:
            nachricht = await self._warte(
                person,
                _im_thread(self.bot_id, str(kopf["event_id"]), f"Themenfeld {name}"),
                f"den Wochenbericht für {name} in den Thread gestellt",
            )
            self.mitschrift.bot_schreibt(nachricht, im_thread=True)
        bild = await self._warte(
            person,
            lambda e: (
                e.get("content", {}).get("msgtype") == "m.image"
                and bezug(e).get("event_id") == kopf["event_id"]
            ),
            "das Ampeldiagramm gesendet",
        )
        inhalt = bild["content"]
        datei = inhalt.get("file")
        quelle = (
            f"{datei.get('url', '')}, verschlüsselt"
            if isinstance(datei, dict)
            else inhalt.get("url")
        )
        self.mitschrift.zeile(
            f"    Klimabot (im Thread): [Bild] {inhalt.get('body', '')} ({quelle})"
        )


def naechster_montagstermin(zeitzone: ZoneInfo) -> dt.datetime:
    """Der nächste Montag 09:00 (verschoben, falls Feiertag), eine halbe Minute danach."""
    termin = naechster_termin(Zeitplan.aus_text("mo 09:00"), dt.datetime.now(dt.UTC), zeitzone)
    assert termin is not None  # ein wöchentlicher Termin findet sich immer
    return verschiebe_auf_arbeitstag(termin, zeitzone) + dt.timedelta(seconds=30)


def _projektzeile(bot_id: str, slug: str, kopf_id: str) -> Callable[[Rohereignis], bool]:
    im_thread = _im_thread(bot_id, kopf_id, f"({slug})")

    def passt(ereignis: Rohereignis) -> bool:
        return im_thread(ereignis) and bezug(ereignis).get("rel_type") == "m.thread"

    return passt


def _im_thread(bot_id: str, kopf_id: str, merkmal: str) -> Callable[[Rohereignis], bool]:
    """Eine Nachricht des Bots mit `merkmal` unter der Nachricht `kopf_id`."""

    def passt(ereignis: Rohereignis) -> bool:
        return _vom_bot(ereignis, bot_id, merkmal) and bezug(ereignis).get("event_id") == kopf_id

    return passt


def _vom_bot(ereignis: Rohereignis, bot_id: str, merkmal: str) -> bool:
    return (
        ereignis.get("sender") == bot_id
        and ereignis.get("type") == "m.room.message"
        and merkmal in str(ereignis.get("content", {}).get("body", ""))
    )


def _person_mit(
    struktur: Struktur, *, patin: str | None = None, koordination: str | None = None
) -> str:
    for person in struktur.personen:
        if (patin is not None and patin in person.patin) or (
            koordination is not None and koordination in person.koordination
        ):
            return person.matrix_id
    raise DemoFehler("Die Beispielstruktur passt nicht zur Szene (Person fehlt).")


def _feld(struktur: Struktur, slug: str) -> ThemenfeldAngabe:
    """Das Themenfeld `slug` mit seinem Raum – die Szene spielt dort."""
    for feld in struktur.themenfelder:
        if feld.slug == slug and feld.raum is not None:
            return feld
    raise DemoFehler(f"Die Beispielstruktur passt nicht zur Szene (Themenfeld {slug} fehlt).")


def _raum_von(struktur: Struktur, slug: str) -> str:
    raum = _feld(struktur, slug).raum
    assert raum is not None  # prüft `_feld`
    return raum


async def spiele_szene(buehne: Buehne, struktur: Struktur, personen: dict[str, Mensch]) -> None:
    energie = buehne.raeume[_raum_von(struktur, "energie")]
    mobilitaet = buehne.raeume[_raum_von(struktur, "mobilitaet")]
    koordination = personen[_person_mit(struktur, koordination="energie")]
    patin = personen[_person_mit(struktur, patin="energie")]
    andere_patin = personen[_person_mit(struktur, patin="mobilitaet")]
    m = buehne.mitschrift

    m.ueberschrift("Die Szene")
    m.schritt(1, f"{koordination.name} (Klimakoordinator*in Energie) fragt nach dem Stand.")
    await buehne.frage(koordination, energie, "!status energie")

    m.schritt(2, f"{patin.name} (Themenpat*in Energie) meldet per Befehl.")
    await buehne.melde(
        patin,
        energie,
        "!meldung waermeplanung gelb 40% Ausschreibung verzögert sich "
        "Herausforderung: Fachkräfte fehlen",
    )

    m.schritt(
        3, f"Ein Tipp genügt: {patin.name} reagiert mit 🟢 auf die Nachricht zu einem Projekt."
    )
    # Die Fernwärme stand zuletzt auf gelb: So zeigt der Stand am Ende die Änderung.
    projektnachricht = await buehne.frage(patin, energie, "!status fernwaerme-dekarbonisierung")
    await buehne.tippe(patin, energie, projektnachricht, "🟢")

    m.schritt(4, f"{andere_patin.name} (Themenpat*in Mobilität) versucht, für Energie zu melden.")
    await buehne.melde(andere_patin, mobilitaet, "!meldung waermeplanung rot")

    m.schritt(5, f"{koordination.name} fragt noch einmal: Beide Meldungen sind im Stand.")
    await buehne.frage(koordination, energie, "!status energie")

    m.schritt(
        6,
        "Montag, 09:00: die Fortschrittsabfrage. (Für die Demo springt die Uhr des Zeitplans "
        "auf den nächsten Montag; gesendet wird wie im Betrieb.)",
    )
    kopf, zeilen = await buehne.abfrage(patin, energie, buehne.naechster_montag)
    await buehne.tippe(patin, energie, zeilen["pv-offensive"], "🟢")
    await buehne.antworte_im_thread(
        koordination,
        energie,
        kopf,
        zeilen["windenergie-flaechen"],
        "gelb, 20 %, Flächenkulisse im Rat vertagt Herausforderung: Beschluss erst im Februar",
    )

    stab = buehne.raum_stabsstelle
    stabsstelle = personen[next(p.matrix_id for p in struktur.personen if p.stabsstelle)]
    m.schritt(
        7,
        f"{stabsstelle.name} (Stabsstelle Klima) holt sich den Wochenbericht. "
        "Aus dem Thread zeigt die Mitschrift Energie und Klimaanpassung.",
    )
    await buehne.wochenbericht(
        stabsstelle, stab, [_feld(struktur, "energie").name, _feld(struktur, "klimaanpassung").name]
    )
