"""Darstellung des Wochenberichts: eine kurze Kopfnachricht, je Themenfeld eine Nachricht.

Im Raum der Stabsstelle steht der Kopf in der Zeitleiste und die Themenfelder im Thread
darunter; die Kommandozeile gibt dasselbe als Text oder JSON aus. Beide Formen entstehen
aus denselben Abschnitten, damit sie nie auseinanderlaufen (Markdown und HTML für den
Klimabericht: `befehle.klimabericht`). Den Befehl `!bericht`
und das Zusammenstellen der Antwort enthält `befehle.bericht`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from befehle import schreibweise
from befehle.nachricht import Code, Fett, Kursiv, Nachricht, Teil
from modelle.berichtsdaten import Feldbericht, NichtZugestellt, Wochenbericht
from modelle.werte import Ampel

# Zwischen den Nachrichten in der Textausgabe der Kommandozeile.
_TRENNER = "─" * 60


@dataclass(frozen=True, slots=True)
class _Abschnitt:
    titel: str
    # Spaltenköpfe, wenn der Abschnitt eine Tabelle ist; leer bei einer Liste.
    kopf: tuple[str, ...]
    # Je Tabellenzeile je Spalte die Teile (nur bei Tabellen).
    zellen: tuple[tuple[tuple[Teil, ...], ...], ...]
    # Je Eintrag eine lesbare Zeile: der Klartext der Tabelle bzw. die Listenpunkte.
    zeilen: tuple[tuple[Teil, ...], ...]


@dataclass(frozen=True, slots=True)
class _Feldinhalt:
    kopf: tuple[Teil, ...]
    hinweis: str | None
    abschnitte: tuple[_Abschnitt, ...]


# --- Kleine Bausteine ---------------------------------------------------------------------


def _zaehlung(ampeln: Mapping[Ampel, int], ohne_meldung: int, *, mit_worten: bool) -> str:
    teile = [f"{a.emoji} {ampeln.get(a, 0)}{' ' + a.wort if mit_worten else ''}" for a in Ampel]
    if ohne_meldung:
        teile.append(f"⚪ {ohne_meldung}{' ohne Meldung' if mit_worten else ''}")
    return " · ".join(teile)


def _projekt(titel: str, slug: str, breite: schreibweise.Zellbreite) -> tuple[Teil, ...]:
    return (Fett(breite.titel_von(titel)), f" ({slug})")


def _autor(autor: str | None, breite: schreibweise.Zellbreite) -> str:
    # Ohne Autor*in ist eine Meldung nur als Anfangsstand aus der Strukturdatei entstanden.
    return breite.name_von(autor) if autor else "Strukturdatei"


def _zitat(text: str) -> str:
    return f"„{text}“" if text else ""


# --- Kopf ---------------------------------------------------------------------------------


def _kopfzeilen(bericht: Wochenbericht) -> tuple[str, str]:
    projekte = schreibweise.anzahl(bericht.projekte, "Projekt", "Projekte")
    felder = schreibweise.anzahl(len(bericht.felder), "Themenfeld", "Themenfeldern")
    stand = (
        f"{_zaehlung(bericht.ampeln, bericht.ohne_meldung, mit_worten=True)} "
        f"({projekte} in {felder})"
    )
    # Ein Wechsel zu „abgeschlossen“ zählt nur als Abschluss, wie im Thread darunter, wo er
    # unter „Abgeschlossen“ steht und nicht unter „Ampelwechsel“.
    wechsel = bericht.anzahl_wechsel - bericht.anzahl_abgeschlossen
    bewegung = [
        schreibweise.anzahl(wechsel, "Ampelwechsel", "Ampelwechsel"),
        f"{schreibweise.anzahl(bericht.anzahl_ueberfaellig, 'Projekt', 'Projekte')} überfällig",
    ]
    for anzahl, einzahl, mehrzahl in (
        (bericht.anzahl_neu, "neues Projekt", "neue Projekte"),
        (bericht.anzahl_abgeschlossen, "Projekt abgeschlossen", "Projekte abgeschlossen"),
        (bericht.anzahl_archiviert, "Projekt archiviert", "Projekte archiviert"),
        (len(bericht.uebersprungene_abfragen), "Abfrage ausgelassen", "Abfragen ausgelassen"),
        (
            len(bericht.nicht_zugestellt),
            "Nachricht nicht zugestellt",
            "Nachrichten nicht zugestellt",
        ),
    ):
        if anzahl:
            bewegung.append(schreibweise.anzahl(anzahl, einzahl, mehrzahl))
    return stand, " · ".join(bewegung)


def _titel(bericht: Wochenbericht, zeitzone: ZoneInfo) -> str:
    return f"📊 Wochenbericht {schreibweise.zeitraum(bericht.von, bericht.bis, zeitzone)}"


def kopf(bericht: Wochenbericht, zeitzone: ZoneInfo) -> Nachricht:
    """Die kurze Nachricht für die Zeitleiste: Zeitraum, Ampeln, Wechsel, Überfälliges."""
    stand, bewegung = _kopfzeilen(bericht)
    return Nachricht().absatz(Fett(_titel(bericht, zeitzone))).absatz(stand, bewegung)


# --- Je Themenfeld ------------------------------------------------------------------------


def _wechsel(
    feld: Feldbericht, zeitzone: ZoneInfo, breite: schreibweise.Zellbreite
) -> _Abschnitt | None:
    eintraege = [w for w in feld.wechsel if w.neu is not Ampel.ABGESCHLOSSEN]
    if not eintraege:
        return None
    zellen = []
    zeilen = []
    for w in eintraege:
        projekt = (
            *_projekt(w.projekt_titel, w.projekt_slug, breite),
            " – archiviert" if w.archiviert else "",
        )
        richtung = f"{schreibweise.ampel(w.alt)} → {schreibweise.ampel(w.neu)}"
        gemeldet = f"{_autor(w.autor, breite)}, {schreibweise.datum(w.zeitpunkt, zeitzone)}"
        meldung = breite.text_von(w.text)
        zellen.append((projekt, (richtung,), (gemeldet,), (meldung or "–",)))
        text = f": {_zitat(meldung)}" if meldung else ""
        zeilen.append((f"{richtung} ", *projekt, f" · {gemeldet}{text}"))
    return _Abschnitt(
        "Ampelwechsel",
        ("Projekt", "Wechsel", "Gemeldet", "Meldung"),
        tuple(zellen),
        tuple(zeilen),
    )


def _rot_gelb(
    feld: Feldbericht, zeitzone: ZoneInfo, breite: schreibweise.Zellbreite
) -> _Abschnitt | None:
    if not feld.rot_gelb:
        return None
    zellen = []
    zeilen = []
    for p in feld.rot_gelb:
        projekt = _projekt(p.projekt_titel, p.projekt_slug, breite)
        fortschritt = schreibweise.fortschritt(p.fortschritt)
        seit = schreibweise.datum(p.zeitpunkt, zeitzone)
        herausforderungen = breite.text_von(p.herausforderungen or "")
        zellen.append(
            (
                projekt,
                (schreibweise.ampel(p.ampel),),
                (fortschritt,),
                (herausforderungen or "–",),
                (seit,),
            )
        )
        herausforderung = f" · Herausforderung: {herausforderungen}" if herausforderungen else ""
        zeilen.append(
            (
                f"{schreibweise.ampel(p.ampel)} ",
                *projekt,
                f" · {fortschritt} · Meldung vom {seit}{herausforderung}",
            )
        )
    return _Abschnitt(
        "Rot und gelb",
        ("Projekt", "Ampel", "Fortschritt", "Herausforderung", "Letzte Meldung"),
        tuple(zellen),
        tuple(zeilen),
    )


def _ueberfaellig(
    feld: Feldbericht, zeitzone: ZoneInfo, breite: schreibweise.Zellbreite
) -> _Abschnitt | None:
    if not feld.ueberfaellig:
        return None
    zellen = []
    zeilen = []
    for p in feld.ueberfaellig:
        projekt = _projekt(p.projekt_titel, p.projekt_slug, breite)
        if p.letzte_meldung is None:
            wann = "noch nie gemeldet"
        else:
            wann = (
                f"{schreibweise.datum(p.letzte_meldung, zeitzone)}, "
                f"vor {schreibweise.anzahl(p.tage_ohne_meldung or 0, 'Tag', 'Tagen')}"
            )
        zellen.append((projekt, (wann,), (schreibweise.ampel(p.letzte_ampel),)))
        zusatz = f" ({schreibweise.ampel(p.letzte_ampel)})" if p.letzte_ampel else ""
        meldung = f"letzte Meldung {wann}" if p.letzte_meldung else wann
        zeilen.append((*projekt, f" · {meldung}{zusatz}"))
    return _Abschnitt(
        f"Überfällig (länger als {feld.ueberfaellig_nach_tagen} Tage ohne Meldung)",
        ("Projekt", "Letzte Meldung", "Ampel"),
        tuple(zellen),
        tuple(zeilen),
    )


def _liste(titel: str, punkte: Sequence[tuple[Teil, ...]]) -> _Abschnitt | None:
    return _Abschnitt(titel, (), (), tuple(punkte)) if punkte else None


def _feldinhalt(
    feld: Feldbericht, zeitzone: ZoneInfo, breite: schreibweise.Zellbreite
) -> _Feldinhalt:
    """Die Abschnitte eines Themenfelds; Benutzertext je Zelle höchstens so breit wie `breite`."""
    zaehlung = _zaehlung(feld.ampeln, feld.ohne_meldung, mit_worten=False)
    anzahl = schreibweise.anzahl(feld.projekte, "Projekt", "Projekte")
    kopfzeile: tuple[Teil, ...] = (
        Fett(f"Themenfeld {feld.themenfeld_name}"),
        f" · {zaehlung} ({anzahl})" if feld.projekte else "",
    )
    neu = [
        (
            f"{schreibweise.ampel(p.ampel)} ",
            *_projekt(p.projekt_titel, p.projekt_slug, breite),
            f" – {'wieder aktiviert' if p.wieder_aktiviert else 'angelegt'} am "
            f"{schreibweise.datum(p.zeitpunkt, zeitzone)} von {breite.name_von(p.wer)}",
        )
        for p in feld.neu
    ]
    abgeschlossen = [
        (
            f"{Ampel.ABGESCHLOSSEN.emoji} ",
            *_projekt(w.projekt_titel, w.projekt_slug, breite),
            f" – {_autor(w.autor, breite)}, {schreibweise.datum(w.zeitpunkt, zeitzone)}"
            + (f": {_zitat(breite.text_von(w.text))}" if w.text else ""),
        )
        for w in feld.abgeschlossen
    ]
    archiviert = [
        (
            *_projekt(p.projekt_titel, p.projekt_slug, breite),
            f" – archiviert am {schreibweise.datum(p.zeitpunkt, zeitzone)}"
            f" von {breite.name_von(p.wer)}",
        )
        for p in feld.archiviert
    ]
    ausgelassen: list[tuple[Teil, ...]] = [
        (
            f"Abfrage vom {schreibweise.zeitpunkt(z, zeitzone)} – der Klimabot war zu lange "
            "nicht erreichbar, sie wurde nicht nachgeholt",
        )
        for z in feld.uebersprungene_abfragen
    ]
    abschnitte = tuple(
        a
        for a in (
            _wechsel(feld, zeitzone, breite),
            _liste("Abgeschlossen", abgeschlossen),
            _rot_gelb(feld, zeitzone, breite),
            _ueberfaellig(feld, zeitzone, breite),
            _liste("Neue Projekte", neu),
            _liste("Archiviert", archiviert),
            _liste("Ausgelassene Abfragen", ausgelassen),
        )
        if a is not None
    )
    if not feld.projekte and not feld.neu and not feld.archiviert:
        hinweis: str | None = "Dieses Themenfeld hat keine aktiven Projekte."
    elif not abschnitte:
        hinweis = "Nichts zu berichten: keine Ampelwechsel, nichts rot, gelb oder überfällig."
    elif not feld.wechsel:
        hinweis = "Keine Ampelwechsel im Berichtszeitraum."
    else:
        hinweis = None
    return _Feldinhalt(kopfzeile, hinweis, abschnitte)


def _als_nachricht(inhalt: _Feldinhalt) -> Nachricht:
    nachricht = Nachricht().absatz(inhalt.kopf)
    if inhalt.hinweis:
        nachricht.absatz(Kursiv(inhalt.hinweis))
    for abschnitt in inhalt.abschnitte:
        nachricht.absatz(Fett(abschnitt.titel))
        if abschnitt.kopf:
            # Im Klartext eine Zeile je Eintrag, mit Punkt davor wie die Listen.
            nachricht.tabelle(
                abschnitt.kopf, abschnitt.zellen, [("• ", *z) for z in abschnitt.zeilen]
            )
        else:
            nachricht.liste(abschnitt.zeilen)
    return nachricht


def feldnachrichten(
    bericht: Wochenbericht, zeitzone: ZoneInfo
) -> list[tuple[Nachricht, tuple[str, ...]]]:
    """Je aktivem Themenfeld eine Nachricht und die Slugs der Projekte, die sie nennt.

    Benutzertext wird je Zelle gekürzt, so knapp wie nötig, damit jede Nachricht in ein
    Matrix-Ereignis passt (`schreibweise.passend`).
    """
    return [(_feldnachricht(feld, zeitzone), feld.projektslugs) for feld in bericht.felder]


def _feldnachricht(feld: Feldbericht, zeitzone: ZoneInfo) -> Nachricht:
    return schreibweise.passend(lambda breite: _als_nachricht(_feldinhalt(feld, zeitzone, breite)))


# --- Nicht zugestellt ----------------------------------------------------------------------

_ZUSTELLUNG_TITEL = "Nicht zugestellte Nachrichten"
_ZUSTELLUNG_HINWEIS = (
    "Der Klimabot hat diese Nachrichten nach mehreren Versuchen aufgegeben – meist, weil er "
    "nicht (mehr) im Raum ist. Bitte den Bot in den Raum einladen oder den Raum in der "
    "Strukturdatei prüfen."
)
# Ein Fehlertext des Homeservers kann lang sein; die Stabsstelle braucht nur den Anfang.
_FEHLER_HOECHSTENS = 120


def _wohin(eintrag: NichtZugestellt) -> tuple[Teil, ...]:
    if eintrag.person is not None:
        return ("Direktnachricht an ", Code(eintrag.person))
    if eintrag.themenfeld_name is not None:
        return (f"Raum des Themenfelds {eintrag.themenfeld_name}",)
    if eintrag.stabsstelle:
        return ("Raum der Stabsstelle",)
    return ("Raum ", Code(eintrag.raum_id or "?"))


def _nicht_zugestellt(eintrag: NichtZugestellt, zeitzone: ZoneInfo) -> tuple[Teil, ...]:
    was = f"Reaktion {eintrag.auszug}" if eintrag.art == "reaktion" else _zitat(eintrag.auszug)
    fehler = eintrag.fehler
    if len(fehler) > _FEHLER_HOECHSTENS:
        fehler = fehler[: _FEHLER_HOECHSTENS - 1].rstrip() + "…"
    return (
        *_wohin(eintrag),
        f": {was} – erstellt {schreibweise.zeitpunkt(eintrag.erstellt, zeitzone)}, aufgegeben "
        f"{schreibweise.zeitpunkt(eintrag.aufgegeben, zeitzone)} ({fehler})",
    )


def zustellnachricht(bericht: Wochenbericht, zeitzone: ZoneInfo) -> Nachricht | None:
    """Die Nachrichten, die der Bot im Zeitraum aufgegeben hat; None, wenn es keine gibt."""
    if not bericht.nicht_zugestellt:
        return None
    return (
        Nachricht()
        .absatz(Fett(f"⚠️ {_ZUSTELLUNG_TITEL}"))
        .absatz(Kursiv(_ZUSTELLUNG_HINWEIS))
        .liste([_nicht_zugestellt(n, zeitzone) for n in bericht.nicht_zugestellt])
    )


# --- Ausgaben für die Kommandozeile ---------------------------------------------------------


def als_text(bericht: Wochenbericht, zeitzone: ZoneInfo) -> str:
    """Kopf und Themenfelder als Klartext, so wie sie im Messenger ohne HTML ankommen."""
    teile = [kopf(bericht, zeitzone).text]
    teile.extend(nachricht.text for nachricht, _ in feldnachrichten(bericht, zeitzone))
    zustellung = zustellnachricht(bericht, zeitzone)
    if zustellung is not None:
        teile.append(zustellung.text)
    return f"\n\n{_TRENNER}\n\n".join(teile) + "\n"


def als_json(bericht: Wochenbericht, zeitzone: ZoneInfo) -> str:
    """Das dokumentierte Austauschformat (README, „Wochenbericht und Export“)."""
    return json.dumps(bericht.als_dict(zeitzone), ensure_ascii=False, indent=2) + "\n"
