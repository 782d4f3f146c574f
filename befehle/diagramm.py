"""Das Ampeldiagramm des Wochenberichts: je Themenfeld die Ampeln der letzten Wochen als PNG.

Gezeichnet wird in einem eigenen, kurzlebigen Prozess (`ampel_diagramm`): Matplotlib hält
beim Zeichnen fast durchgehend den GIL – in einem Thread stockte die Ereignisschleife des
Bots immer wieder um 0,1–0,2 s – und bliebe nach dem ersten Import mit 60–80 MB im
Bot-Prozess, denn Python gibt importierte Module nicht zurück. Der Zeichenprozess endet nach
dem Bild und gibt seinen Speicher mit. Er ist ein frischer Interpreter
(`python -I -m befehle.diagramm`, Auftrag als JSON auf stdin, PNG auf stdout), kein
`multiprocessing`-Kind: „fork“ erbte gehaltene Sperren der Threads des Bots, und „spawn“
lüde das Hauptmodul des Bots samt nio erneut (~1 s je Bild) und hielte einen Hilfsprozess.

Ins Kind geht ein `Zeichenauftrag` aus Text und Zahlen, nicht der `Ampelverlauf`: zum
Lesen braucht es die Modelle nicht.

Gezeichnet wird mit einer eigenen `Figure` und dem Agg-Canvas, nicht mit `pyplot`: pyplot
hält Zustand im Prozess (aktuelle Figur, gewähltes Backend) und wählt beim Import ein
Backend, das auf einem Server ohne Bildschirm scheitern kann.
"""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from modelle.werte import Ampel

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from modelle.berichtsdaten import Ampelverlauf

# Das Kind braucht 1–3 s (Start, Importe, Zeichnen ~0,4 s), auf einer ausgelasteten Maschine
# das Mehrfache. Danach fehlt das Bild lieber, als dass der Bericht hängt.
ZEITLIMIT_S = 60.0

# Übliche Ampelfarben, kräftig genug für Gelb auf Weiß; abgeschlossen ist neutral grau.
_FARBEN = {
    Ampel.GRUEN: "#3a9d23",
    Ampel.GELB: "#f2c300",
    Ampel.ROT: "#d7191c",
    Ampel.ABGESCHLOSSEN: "#8c8c8c",
}
_OHNE_MELDUNG = "#e4e4e4"
# Von unten nach oben gestapelt; dieselbe Reihenfolge wie in `Zeichenauftrag.felder`.
# Auch die Verläufe von Klimadashboard und Klimabericht (`befehle.seiten`) stapeln so.
REIHEN = [*(_FARBEN[a] for a in Ampel), _OHNE_MELDUNG]
_LEGENDE = [*(a.wort for a in Ampel), "ohne Meldung"]
_SPALTEN = 4
_SAEULENBREITE = 0.8

# Feste Maße in Zoll statt `constrained_layout` (das maß jede Beschriftung zweimal aus und
# kostete ~0,7 s). Sie tragen die Schriftgrößen unten, bei jeder Zahl von Feldern.
_FELD_BREITE = 3.2
_FELD_HOEHE = 2.5
_MINDESTBREITE = 8.0  # Überschrift und Legende brauchen so viel, auch bei einem Feld
_RAND_LINKS = 0.62  # „Projekte“ und die Zahlen der y-Achse
_RAND_RECHTS = 0.12
_RAND_OBEN = 0.62  # Überschrift und Feldtitel
_RAND_UNTEN = 0.68  # Datumsangaben und Legende
_LUECKE_WAAGERECHT = 0.42  # Zahlen der y-Achse des rechten Nachbarn
_LUECKE_SENKRECHT = 0.52  # Datumsangaben und Titel des Feldes darunter


PNG_KENNUNG = b"\x89PNG\r\n\x1a\n"


class DiagrammFehler(Exception):
    """Das Diagramm kam nicht zustande: Fehler, Absturz oder Zeitüberschreitung beim Zeichnen.

    Der Wochenbericht geht dann ohne Bild hinaus.
    """


@dataclass(frozen=True, slots=True)
class Feldsaeulen:
    name: str
    # Je Stichtag eine Säule: Anzahl Projekte je Ampel (Reihenfolge von `Ampel`), dann ohne
    # Meldung.
    saeulen: tuple[tuple[int, ...], ...]


@dataclass(frozen=True, slots=True)
class Zeichenauftrag:
    """Alles, was auf dem Bild steht, als Text und Zahlen."""

    titel: str
    beschriftungen: tuple[str, ...]  # je Stichtag, ältester zuerst
    felder: tuple[Feldsaeulen, ...]

    @classmethod
    def aus_verlauf(cls, verlauf: Ampelverlauf) -> Zeichenauftrag:
        stand = verlauf.stichtage[-1].strftime("%d.%m.%Y") if verlauf.stichtage else ""
        return cls(
            titel=(
                f"Ampeln der Strategieprojekte je Themenfeld – letzte {len(verlauf.stichtage)} "
                f"Wochen (Stand {stand})"
            ),
            beschriftungen=tuple(s.strftime("%d.%m.") for s in verlauf.stichtage),
            felder=tuple(
                Feldsaeulen(
                    name=f.themenfeld_name,
                    saeulen=tuple(
                        (*(z.ampeln.get(a, 0) for a in Ampel), z.ohne_meldung) for z in f.zaehlungen
                    ),
                )
                for f in verlauf.felder
            ),
        )

    def als_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()

    @classmethod
    def aus_json(cls, daten: bytes) -> Zeichenauftrag:
        roh = json.loads(daten)
        return cls(
            titel=roh["titel"],
            beschriftungen=tuple(roh["beschriftungen"]),
            felder=tuple(
                Feldsaeulen(f["name"], tuple(tuple(s) for s in f["saeulen"])) for f in roh["felder"]
            ),
        )


def kindbefehl() -> list[str]:
    """Wie der Zeichenprozess gestartet wird (Tests setzen hier einen scheiternden ein).

    Isoliert (`-I`): ohne `-I` stünde das Arbeitsverzeichnis des Bots vorn im Suchpfad, und
    eine Datei `befehle/diagramm.py` oder `matplotlib.py` dort liefe mit den Rechten des Bots.
    So kommt `befehle` allein aus der Installation (auch der editierbaren von `make`), und
    `PYTHON…`-Umgebungsvariablen und das Benutzer-site-packages zählen nicht.
    """
    return [sys.executable, "-I", "-m", "befehle.diagramm"]


def ampel_diagramm(verlauf: Ampelverlauf, *, zeitlimit_s: float = ZEITLIMIT_S) -> bytes:
    """Kleine Vielfache als PNG, gezeichnet in einem eigenen Prozess; blockiert bis dahin.

    Für die Ereignisschleife: `await asyncio.to_thread(ampel_diagramm, verlauf)`. Der Thread
    wartet nur auf das Kind und gibt den GIL frei. Jeder Fehlschlag wird `DiagrammFehler`;
    ein Kind, das das Zeitlimit überschreitet, wird beendet.
    """
    auftrag = Zeichenauftrag.aus_verlauf(verlauf)
    try:
        lauf = subprocess.run(
            kindbefehl(),
            input=auftrag.als_json(),
            capture_output=True,
            timeout=zeitlimit_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DiagrammFehler(f"Zeichenprozess nach {zeitlimit_s:g} s nicht fertig") from None
    except OSError as fehler:
        raise DiagrammFehler(f"Zeichenprozess nicht gestartet: {fehler}") from fehler
    if lauf.returncode != 0:
        meldung = lauf.stderr.decode(errors="replace").strip()[-2000:]
        raise DiagrammFehler(f"Zeichenprozess endete mit Exitcode {lauf.returncode}:\n{meldung}")
    if not lauf.stdout.startswith(PNG_KENNUNG):
        raise DiagrammFehler("Zeichenprozess lieferte kein PNG")
    return lauf.stdout


def zeichne(auftrag: Zeichenauftrag) -> bytes:
    """Das PNG, gezeichnet in diesem Prozess (lädt Matplotlib): für das Kind und Messungen."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    anzahl = len(auftrag.felder)
    spalten = max(1, min(_SPALTEN, anzahl))
    zeilen = max(1, math.ceil(anzahl / spalten))
    breite = max(_MINDESTBREITE, _FELD_BREITE * spalten)
    hoehe = _FELD_HOEHE * zeilen + 1.1
    feldbreite = (
        breite - _RAND_LINKS - _RAND_RECHTS - (spalten - 1) * _LUECKE_WAAGERECHT
    ) / spalten
    feldhoehe = (hoehe - _RAND_OBEN - _RAND_UNTEN - (zeilen - 1) * _LUECKE_SENKRECHT) / zeilen
    figur = Figure(figsize=(breite, hoehe), dpi=100)
    FigureCanvasAgg(figur)
    achsen = figur.subplots(
        zeilen,
        spalten,
        squeeze=False,
        gridspec_kw={
            "left": _RAND_LINKS / breite,
            "right": 1 - _RAND_RECHTS / breite,
            "top": 1 - _RAND_OBEN / hoehe,
            "bottom": _RAND_UNTEN / hoehe,
            "wspace": _LUECKE_WAAGERECHT / feldbreite,
            "hspace": _LUECKE_SENKRECHT / feldhoehe,
        },
    ).flatten()
    for achse, feld in zip(achsen, auftrag.felder, strict=False):
        _feld(achse, feld, auftrag.beschriftungen)
    for achse in achsen[anzahl:]:
        achse.set_axis_off()
    if anzahl == 0:
        achsen[0].text(0.5, 0.5, "Keine aktiven Themenfelder", ha="center", va="center")

    figur.suptitle(auftrag.titel, fontsize=12, y=1 - 0.1 / hoehe, va="top")
    figur.supylabel("Projekte", fontsize=9, x=0.08 / breite, ha="left")
    legende = [Patch(color=f, label=t) for f, t in zip(REIHEN, _LEGENDE, strict=True)]
    figur.legend(
        handles=legende,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.02 / hoehe),
        ncols=len(legende),
        frameon=False,
    )

    puffer = io.BytesIO()
    # Ohne Versionsangabe in den Metadaten (eine Zeitangabe schreibt Agg ohnehin nicht):
    # dieselben Zahlen ergeben mit derselben Installation dieselben Bytes.
    figur.savefig(puffer, format="png", metadata={"Software": None})
    return puffer.getvalue()


def _feld(achse: Axes, feld: Feldsaeulen, beschriftungen: tuple[str, ...]) -> None:
    from matplotlib.collections import PolyCollection
    from matplotlib.ticker import MaxNLocator

    # Alle Säulenstücke eines Feldes als ein Artist mit festen Achsengrenzen: `bar` legte je
    # Stück ein Rechteck an und führte jedes Mal die Achsengrenzen nach.
    stuecke: list[tuple[tuple[float, float], ...]] = []
    farben: list[str] = []
    hoechste = 0
    for x, saeule in enumerate(feld.saeulen):
        links, rechts = x - _SAEULENBREITE / 2, x + _SAEULENBREITE / 2
        unten = 0
        for farbe, wert in zip(REIHEN, saeule, strict=True):
            if wert:
                oben = unten + wert
                stuecke.append(((links, unten), (links, oben), (rechts, oben), (rechts, unten)))
                farben.append(farbe)
                unten = oben
        hoechste = max(hoechste, unten)
    achse.set_autoscale_on(False)
    achse.add_collection(PolyCollection(stuecke, facecolors=farben, linewidths=0), autolim=False)
    achse.set_xlim(-0.6, len(beschriftungen) - 0.4)
    achse.set_ylim(0, hoechste * 1.05 if hoechste else 1)
    # Feste Position: die automatische misst dafür jede Beschriftung der x-Achse aus.
    achse.set_title(feld.name, fontsize=10, y=1.0)
    # Jede zweite Woche beschriftet, vom neuesten Stichtag aus: so bleibt die Schrift waagerecht.
    # Nur diese bekommen einen Strich; jeder Strich ist ein Artist mit fünf Teilen.
    beschriftet = range(len(beschriftungen) - 1, -1, -2)
    achse.set_xticks(beschriftet, [beschriftungen[i] for i in beschriftet], fontsize=7)
    achse.tick_params(axis="y", labelsize=8)
    achse.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    achse.spines[["top", "right"]].set_visible(False)
    if hoechste == 0:
        achse.set_yticks([])
        achse.text(
            0.5,
            0.5,
            "keine aktiven Projekte",
            transform=achse.transAxes,
            ha="center",
            va="center",
            fontsize=9,
            color="#666666",
        )


if __name__ == "__main__":  # der Zeichenprozess: Auftrag von stdin, PNG nach stdout
    sys.stdout.buffer.write(zeichne(Zeichenauftrag.aus_json(sys.stdin.buffer.read())))
