"""Das Klimadashboard als eine statische HTML-Seite (`klimabot dashboard -o ORDNER`).

Eine Datei `index.html`, die alles enthält: Stil inline, die Verläufe als SVG (matplotlib),
kein JavaScript, keine Anfrage nach außen – sie funktioniert aus `file://` wie von jedem
Webserver. Die Vorlage (`vorlagen/dashboard.html.j2`, Rahmen und Ampel geteilt mit dem
Klimabericht, `befehle.seiten`) rendert Jinja2 mit Autoescaping: jeder Name aus der Struktur
und jeder Text aus einer Meldung wird maskiert. Die Ampel steht immer als
Symbol und Wort, nie nur als Farbe. Was die öffentliche Fassung nicht zeigen darf, ist schon
in ihren Daten nicht enthalten (`modelle.dashboarddaten`).

Geschrieben wird atomar: erst ein Ordner daneben, dann umbenannt – wer die Seite gerade
ausliefert, sieht die alte oder die neue, nie eine halbe.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from befehle import schreibweise
from befehle.seiten import (
    beschreibung,
    ersetze_atomar,
    kurzdatum,
    svg_eingebettet,
    umgebung,
    verlaufsbild,
)
from modelle.dashboarddaten import Dashboard, stelle_dashboard_zusammen


def dashboard_html(dashboard: Dashboard, zeitzone: ZoneInfo) -> str:
    """Die Seite als Text (UTF-8)."""
    vorlage = umgebung(
        zeitzone, alter=lambda zeitpunkt: schreibweise.alter(zeitpunkt, dashboard.stand, zeitzone)
    ).get_template("dashboard.html.j2")
    zeitraum = f"über {schreibweise.anzahl(len(dashboard.stichtage), 'Woche', 'Wochen')}"
    erste = kurzdatum(dashboard.stichtage[0], zeitzone)
    return vorlage.render(
        dashboard=dashboard,
        stand=schreibweise.zeitpunkt(dashboard.stand, zeitzone),
        verlauf_svg={
            feld.slug: svg_eingebettet(
                verlaufsbild(
                    feld.verlauf,
                    {0: erste, len(feld.verlauf) - 1: "jetzt"},
                    format="svg",
                ),
                beschreibung(f"im Themenfeld {feld.name}", feld.verlauf, zeitraum, ende="jetzt"),
            )
            for feld in dashboard.felder
        },
    )


def schreibe_dashboard(ordner: Path, html: str) -> None:
    """Schreibt `ordner/index.html` atomar: neuer Ordner daneben, dann umbenannt."""

    def fuellen(neu: Path) -> None:
        neu.mkdir()
        (neu / "index.html").write_text(html, encoding="utf-8")

    ersetze_atomar(ordner, fuellen)


async def schreibe_aus(
    sitzung: AsyncSession, ordner: Path, *, zeitzone: ZoneInfo, wochen: int, intern: bool
) -> None:
    """Stellt das Dashboard zum jetzigen Augenblick zusammen und schreibt `ordner/index.html`."""
    dashboard = await stelle_dashboard_zusammen(
        sitzung, jetzt=dt.datetime.now(dt.UTC), zeitzone=zeitzone, wochen=wochen, intern=intern
    )
    schreibe_dashboard(ordner, dashboard_html(dashboard, zeitzone))
