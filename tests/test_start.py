"""Beim Start: die Strukturdatei wird nur übernommen, wenn sie sich geändert hat."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from sqlalchemy import func, select

from bot.app import setze_stabsstelle_raum, uebernimm_strukturdatei
from bot.config import Einstellungen
from modelle.datenbank import Sitzungsfabrik
from modelle.tabellen import Aenderung, Raum, Strategieprojekt
from tests.strukturen import BEISPIEL


async def _zaehle(
    sitzungen: Sitzungsfabrik, tabelle: type[Aenderung] | type[Strategieprojekt]
) -> int:
    async with sitzungen() as sitzung:
        return int(await sitzung.scalar(select(func.count()).select_from(tabelle)) or 0)


async def test_strukturdatei_wird_nur_bei_aenderung_uebernommen(
    sitzungen: Sitzungsfabrik, tmp_path: Path
) -> None:
    datei = tmp_path / "struktur.toml"
    shutil.copy(BEISPIEL, datei)
    einstellungen = Einstellungen.model_validate({"bot": {"strukturdatei": str(datei)}})
    await uebernimm_strukturdatei(einstellungen, sitzungen)
    protokoll = await _zaehle(sitzungen, Aenderung)
    projekte = await _zaehle(sitzungen, Strategieprojekt)
    assert projekte > 0

    await uebernimm_strukturdatei(einstellungen, sitzungen)
    assert await _zaehle(sitzungen, Aenderung) == protokoll

    datei.write_text(
        datei.read_text(encoding="utf-8")
        + '\n[[projekt]]\nslug = "neu"\nthemenfeld = "energie"\ntitel = "Neues Projekt"\n',
        encoding="utf-8",
    )
    await uebernimm_strukturdatei(einstellungen, sitzungen)
    assert await _zaehle(sitzungen, Strategieprojekt) == projekte + 1


async def test_zurueckdatierte_uebernahme_gilt_auch_beim_naechsten_start(
    sitzungen: Sitzungsfabrik, tmp_path: Path
) -> None:
    datei = tmp_path / "struktur.toml"
    shutil.copy(BEISPIEL, datei)
    einstellungen = Einstellungen.model_validate({"bot": {"strukturdatei": str(datei)}})
    damals = dt.datetime(2026, 9, 7, 9, 0, tzinfo=dt.UTC)

    await uebernimm_strukturdatei(einstellungen, sitzungen, zeitpunkt=damals)
    # Der Start danach findet dieselbe Datei vor und übernimmt nichts noch einmal.
    await uebernimm_strukturdatei(einstellungen, sitzungen)

    async with sitzungen() as sitzung:
        zeitpunkte = set(await sitzung.scalars(select(Aenderung.zeitpunkt)))
        wer = set(await sitzung.scalars(select(Aenderung.wer)))
    assert zeitpunkte == {damals}
    assert wer == {"klimabot run (struktur.toml)"}


async def test_stabsstelle_raum_folgt_der_konfiguration(sitzungen: Sitzungsfabrik) -> None:
    await setze_stabsstelle_raum("#stab:example.org", sitzungen)
    await setze_stabsstelle_raum("#klima-stab:example.org", sitzungen)
    async with sitzungen() as sitzung:
        raeume = (await sitzung.scalars(select(Raum))).all()
    assert [(r.adresse, r.ist_stabsstelle) for r in raeume] == [("#klima-stab:example.org", True)]
