"""Das Ampeldiagramm des Wochenberichts: je Themenfeld die Ampeln der letzten Wochen als PNG.

Gezeichnet wird mit einer eigenen `Figure` und dem Agg-Canvas, nicht mit `pyplot`: pyplot
hält Zustand im Prozess (aktuelle Figur, gewähltes Backend) und wählt beim Import ein
Backend, das auf einem Server ohne Bildschirm scheitern kann.

Matplotlib wird erst beim ersten Zeichnen geladen: es kostet den Bot sonst von Anfang an
rund 40 MB Speicher und eine Sekunde Start (gemessen, docs/leistung.md), gebraucht wird
es höchstens einmal die Woche.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from modelle.bericht import Ampelverlauf, Feldverlauf
from modelle.werte import Ampel

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Übliche Ampelfarben, kräftig genug für Gelb auf Weiß; abgeschlossen ist neutral grau.
_FARBEN = {
    Ampel.GRUEN: "#3a9d23",
    Ampel.GELB: "#f2c300",
    Ampel.ROT: "#d7191c",
    Ampel.ABGESCHLOSSEN: "#8c8c8c",
}
_OHNE_MELDUNG = "#e4e4e4"
_SPALTEN = 4


def _feld(achse: Axes, feld: Feldverlauf, beschriftungen: list[str]) -> None:
    from matplotlib.ticker import MaxNLocator

    positionen = list(range(len(beschriftungen)))
    unten = [0] * len(positionen)
    reihen: list[tuple[str, list[int]]] = [
        (_FARBEN[a], [z.ampeln.get(a, 0) for z in feld.zaehlungen]) for a in Ampel
    ]
    reihen.append((_OHNE_MELDUNG, [z.ohne_meldung for z in feld.zaehlungen]))
    for farbe, werte in reihen:
        achse.bar(positionen, werte, bottom=unten, width=0.8, color=farbe, linewidth=0)
        unten = [u + w for u, w in zip(unten, werte, strict=True)]
    achse.set_title(feld.themenfeld_name, fontsize=10)
    # Jede zweite Woche beschriftet, vom neuesten Stichtag aus: so bleibt die Schrift waagerecht.
    lesbar = [
        b if (len(beschriftungen) - 1 - i) % 2 == 0 else "" for i, b in enumerate(beschriftungen)
    ]
    achse.set_xticks(positionen, lesbar, fontsize=7)
    achse.tick_params(axis="y", labelsize=8)
    achse.yaxis.set_major_locator(MaxNLocator(integer=True))
    achse.set_xlim(-0.6, len(positionen) - 0.4)
    achse.spines[["top", "right"]].set_visible(False)
    if max(unten, default=0) == 0:
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


def ampel_diagramm(verlauf: Ampelverlauf) -> bytes:
    """Kleine Vielfache: je Themenfeld ein Feld gestapelter Säulen, eine Säule je Stichtag."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    anzahl = len(verlauf.felder)
    spalten = max(1, min(_SPALTEN, anzahl))
    zeilen = max(1, math.ceil(anzahl / spalten))
    figur = Figure(figsize=(3.2 * spalten, 2.5 * zeilen + 1.1), dpi=100, layout="constrained")
    FigureCanvasAgg(figur)
    achsen = figur.subplots(zeilen, spalten, squeeze=False).flatten()
    beschriftungen = [s.strftime("%d.%m.") for s in verlauf.stichtage]
    for achse, feld in zip(achsen, verlauf.felder, strict=False):
        _feld(achse, feld, beschriftungen)
    for achse in achsen[anzahl:]:
        achse.set_axis_off()
    if anzahl == 0:
        achsen[0].text(0.5, 0.5, "Keine aktiven Themenfelder", ha="center", va="center")

    stand = verlauf.stichtage[-1].strftime("%d.%m.%Y") if verlauf.stichtage else ""
    figur.suptitle(
        f"Ampeln der Strategieprojekte je Themenfeld – letzte {len(verlauf.stichtage)} "
        f"Wochen (Stand {stand})",
        fontsize=12,
    )
    figur.supylabel("Projekte", fontsize=9)
    legende = [Patch(color=_FARBEN[a], label=a.wort) for a in Ampel]
    legende.append(Patch(color=_OHNE_MELDUNG, label="ohne Meldung"))
    figur.legend(handles=legende, loc="outside lower center", ncols=len(legende), frameon=False)

    puffer = io.BytesIO()
    # Ohne Versionsangabe in den Metadaten (eine Zeitangabe schreibt Agg ohnehin nicht):
    # dieselben Zahlen ergeben mit derselben Installation dieselben Bytes.
    figur.savefig(puffer, format="png", metadata={"Software": None})
    return puffer.getvalue()
