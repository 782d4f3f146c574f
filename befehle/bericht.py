"""Befehl `!bericht`: der Wochenbericht als Vorschau – denselben sendet der Zeitplaner freitags.

Nur der geplante erwähnt die Stabsstelle im Kopf und pingt sie; die Vorschau nennt niemanden.
Die Darstellung (Nachrichten, Text, Markdown, JSON) steht in `befehle.berichtsausgabe`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from befehle import schreibweise
from befehle.berichtsausgabe import feldnachrichten, kopf, zustellnachricht
from befehle.diagramm import DiagrammFehler, ampel_diagramm
from befehle.grundlagen import (
    Anfrage,
    Antwort,
    Berechtigung,
    Bild,
    Folge,
    befehl,
    keine_argumente,
)
from befehle.nachricht import Kursiv
from modelle.berichtsdaten import ampel_verlauf, stelle_wochenbericht_zusammen
from modelle.tabellen import Versandart
from modelle.versand import letzter_wochenbericht, versaeumte_seit
from modelle.verzeichnis import PersonEintrag

log = logging.getLogger(__name__)

STANDARDZEITRAUM = dt.timedelta(days=7)


async def wochenbericht_antwort(
    sitzung: AsyncSession,
    *,
    bis: dt.datetime,
    zeitzone: ZoneInfo,
    vorschau: bool = False,
    verspaetet: bool = False,
    an: Sequence[PersonEintrag] = (),
) -> Antwort:
    """Kopf in der Zeitleiste, je Themenfeld eine Nachricht und das Diagramm im Thread darunter.

    Der Zeitraum beginnt beim letzten gesendeten Wochenbericht (sonst eine Woche vorher), so
    dass jede Änderung und jede ausgelassene Abfrage in genau einem Bericht steht. Der Kopf
    erwähnt die Personen `an` (beim geplanten Bericht die Stabsstelle).
    """
    von = await letzter_wochenbericht(sitzung) or bis - STANDARDZEITRAUM
    ausgelassen = [
        (v.themenfeld_slug, v.faellig_am)
        for v in await versaeumte_seit(sitzung, von, bis)
        if v.art is Versandart.ABFRAGE and v.themenfeld_slug is not None
    ]
    bericht = await stelle_wochenbericht_zusammen(
        sitzung, von=von, bis=bis, uebersprungene_abfragen=ausgelassen
    )
    verlauf = await ampel_verlauf(sitzung, bis=bis, zeitzone=zeitzone)
    # Gezeichnet wird in einem eigenen Prozess; der Thread wartet nur darauf.
    diagramm: bytes | None
    try:
        diagramm = await asyncio.to_thread(ampel_diagramm, verlauf)
    except DiagrammFehler:
        # Der Bericht zählt, das Bild ist Beigabe: er geht ohne hinaus, statt auszufallen.
        log.exception("Ampeldiagramm fehlt im Wochenbericht")
        diagramm = None
    nachricht = kopf(bericht, zeitzone)
    hinweise = []
    if vorschau:
        hinweise.append(Kursiv("Vorschau – der geplante Wochenbericht kommt trotzdem."))
    if verspaetet:
        hinweise.append(Kursiv("Verspätet: der Klimabot war zur geplanten Zeit nicht erreichbar."))
    anrede = [*schreibweise.erwaehnungen(an), ": "] if an else []
    if diagramm is None:
        hinweise.append(Kursiv("Das Ampeldiagramm ließ sich diesmal nicht zeichnen."))
        nachricht.absatz([*anrede, "Details je Themenfeld stehen im Thread."], *hinweise)
    else:
        nachricht.absatz(
            [*anrede, "Details je Themenfeld und das Ampeldiagramm stehen im Thread."], *hinweise
        )
    folgen = [Folge(feld, projekte=slugs) for feld, slugs in feldnachrichten(bericht, zeitzone)]
    zustellung = zustellnachricht(bericht, zeitzone)
    if zustellung is not None:
        folgen.append(Folge(zustellung))
    if diagramm is not None:
        folgen.append(
            Folge(
                bild=Bild(
                    diagramm,
                    "ampeln-12-wochen.png",
                    "Ampeln je Themenfeld in den letzten 12 Wochen",
                )
            )
        )
    return Antwort(nachricht, thread=tuple(folgen))


@befehl(
    name="bericht",
    aliase=("wochenbericht",),
    kurz="Vorschau des Wochenberichts (Stabsstelle)",
    hilfe=(
        "Zeigt jetzt den Wochenbericht, wie er zum nächsten Termin käme: Ampeln, Wechsel seit "
        "dem letzten Bericht, rote, gelbe und überfällige Projekte, Änderungen der Struktur – "
        "Details im Thread, mit Diagramm. Der geplante Bericht kommt trotzdem."
    ),
    beispiele=("bericht",),
    abschnitt="Stabsstelle",
    berechtigung=Berechtigung.STABSSTELLE,
    argumente=keine_argumente,
)
async def bericht(anfrage: Anfrage, _argumente: None) -> Antwort:
    return await wochenbericht_antwort(
        anfrage.sitzung, bis=anfrage.jetzt, zeitzone=anfrage.zeitzone, vorschau=True
    )
