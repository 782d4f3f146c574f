"""Was der Bot über Neustarts behält: Werte der Tabelle `zustand` lesen, setzen, löschen."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelle.tabellen import Zustand


async def lies_zustand(sitzung: AsyncSession, schluessel: str) -> str | None:
    return await sitzung.scalar(select(Zustand.wert).where(Zustand.schluessel == schluessel))


async def setze_zustand(sitzung: AsyncSession, schluessel: str, wert: str) -> None:
    zeile = await sitzung.get(Zustand, schluessel)
    if zeile is None:
        sitzung.add(Zustand(schluessel=schluessel, wert=wert))
    else:
        zeile.wert = wert


async def loesche_zustand(sitzung: AsyncSession, schluessel: str) -> None:
    await sitzung.execute(delete(Zustand).where(Zustand.schluessel == schluessel))


async def zustaende_mit_praefix(sitzung: AsyncSession, praefix: str) -> dict[str, str]:
    """Alle Werte, deren Schlüssel mit `praefix` beginnt (Schlüssel → Wert)."""
    zeilen = await sitzung.execute(
        select(Zustand.schluessel, Zustand.wert).where(Zustand.schluessel.startswith(praefix))
    )
    return {str(zeile[0]): str(zeile[1]) for zeile in zeilen}
