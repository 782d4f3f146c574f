"""`!verlauf <projekt> [anzahl]` – die letzten Statusmeldungen eines Projekts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from befehle import schreibweise
from befehle.grundlagen import Anfrage, Antwort, Argumentfehler, befehl
from befehle.nachricht import HOECHSTENS_BYTES, Fett, Kursiv, Nachricht, Teil, gekuerzt
from befehle.suche import finde_projekt, verstanden
from modelle.stand import Meldungseintrag
from modelle.stand import verlauf as meldungsverlauf
from modelle.werte import Quelle

VORGABE = 5
HOECHSTENS = 20


@dataclass(frozen=True, slots=True)
class VerlaufArgumente:
    projekt: str
    anzahl: int


def lies_argumente(text: str) -> VerlaufArgumente:
    woerter = text.split()
    if not woerter:
        raise Argumentfehler("Es fehlt das Projekt.")
    if len(woerter) > 2:
        raise Argumentfehler("Bitte nur das Projekt und eine Anzahl angeben.")
    if len(woerter) == 1:
        return VerlaufArgumente(woerter[0], VORGABE)
    projekt, anzahl = woerter
    # Erst die Länge: `int()` verweigert Zahlen mit mehr als 4300 Ziffern mit einem ValueError.
    if not (anzahl.isdecimal() and len(anzahl) <= 3 and 1 <= int(anzahl) <= HOECHSTENS):
        raise Argumentfehler(
            f"„{gekuerzt(anzahl)}“ ist keine gültige Anzahl: "
            f"bitte eine Zahl von 1 bis {HOECHSTENS}."
        )
    return VerlaufArgumente(projekt, int(anzahl))


@befehl(
    name="verlauf",
    syntax="<projekt> [anzahl]",
    kurz="Die letzten Statusmeldungen eines Projekts",
    hilfe=(
        f"Die neuesten Statusmeldungen des Projekts ({VORGABE}, oder so viele wie angegeben, "
        f"höchstens {HOECHSTENS}), neueste zuerst: Datum, Ampel, Fortschritt, Text, "
        "Herausforderungen und wer gemeldet hat. Zurückgezogene Meldungen erscheinen nicht. "
        "Auf die Antwort kann man direkt antworten, um eine neue Meldung abzugeben."
    ),
    beispiele=("verlauf waermeplanung 10", "verlauf radvorrangrouten"),
    abschnitt="Auskunft",
    argumente=lies_argumente,
    nur_lesend=True,
)
async def verlauf(anfrage: Anfrage, argumente: VerlaufArgumente) -> Antwort:
    fund = finde_projekt(anfrage.verzeichnis, argumente.projekt, anfrage.praefix)
    projekt = fund.eintrag
    meldungen = await meldungsverlauf(anfrage.sitzung, projekt.id, argumente.anzahl)
    kopf: list[Teil] = [Fett(projekt.titel), f" ({projekt.slug})"]
    if not meldungen:
        nachricht = Nachricht().absatz(kopf, "Zu diesem Projekt gibt es noch keine Meldung.")
    else:
        # Hier steht der volle Text. Passen die Meldungen so nicht in eine Nachricht (bis zu
        # 4000 Zeichen je Meldung), zeigt der Verlauf die neuesten, die passen – eine ganz.
        gezeigt = len(meldungen)
        nachricht = _tabelle(anfrage, kopf, meldungen)
        while gezeigt > 1 and not nachricht.passt_in(HOECHSTENS_BYTES):
            gezeigt -= 1
            nachricht = _tabelle(anfrage, kopf, meldungen[:gezeigt])
        if gezeigt < len(meldungen):
            nachricht.absatz(
                Kursiv(
                    f"Die älteren {len(meldungen) - gezeigt} der {len(meldungen)} Meldungen "
                    "passen nicht mehr in diese Nachricht."
                )
            )
    if fund.gedeutet:
        nachricht.absatz(verstanden(argumente.projekt, projekt))
    nachricht.absatz(
        "Melden: auf diese Nachricht antworten, z. B. „gelb, 40 %, Ausschreibung läuft“, "
        "oder mit 🟢 🟡 🔴 ✅ reagieren."
    )
    return Antwort(nachricht, projekte=(projekt.slug,))


def _tabelle(anfrage: Anfrage, kopf: list[Teil], meldungen: Sequence[Meldungseintrag]) -> Nachricht:
    menge = "letzte Meldung" if len(meldungen) == 1 else f"letzte {len(meldungen)} Meldungen"
    nachricht = Nachricht().absatz([*kopf, f" – {menge}"])
    return nachricht.tabelle(
        ["Datum", "Ampel", "Fortschritt", "Meldung", "Herausforderungen", "Von"],
        [_zeile(anfrage, m) for m in meldungen],
        [_textzeile(anfrage, m) for m in meldungen],
    )


def _zeile(anfrage: Anfrage, meldung: Meldungseintrag) -> list[Teil]:
    return [
        schreibweise.datum(meldung.zeitpunkt, anfrage.zeitzone),
        schreibweise.ampel(meldung.ampel),
        schreibweise.fortschritt(meldung.fortschritt),
        meldung.text or "–",
        meldung.herausforderungen or "–",
        _von(meldung),
    ]


def _textzeile(anfrage: Anfrage, meldung: Meldungseintrag) -> list[Teil]:
    teile: list[Teil] = [
        Fett(schreibweise.datum(meldung.zeitpunkt, anfrage.zeitzone)),
        f" · {schreibweise.ampel(meldung.ampel)} · {schreibweise.fortschritt(meldung.fortschritt)}",
    ]
    if meldung.text:
        teile.append(f" · {meldung.text}")
    if meldung.herausforderungen:
        teile.append(f" · Herausforderung: {meldung.herausforderungen}")
    teile.append(f" · {_von(meldung)}")
    return teile


def _von(meldung: Meldungseintrag) -> str:
    if meldung.autor:
        return meldung.autor
    return "Anfangsstand (Import)" if meldung.quelle is Quelle.IMPORT else "unbekannt"
