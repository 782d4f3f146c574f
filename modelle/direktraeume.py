"""Direkträume des Bots mit einzelnen Personen: welcher gilt, wie er entsteht, wann er endet.

Je Person gilt höchstens ein Direktraum, der nicht aufgegeben ist (Teilindex in der
Datenbank). Legt der Bot selbst einen an, merkt er sich zuerst die Absicht mit einer
zufälligen Kennung (`beabsichtige_direktraum`), legt dann den Raum mit dieser Kennung an und
trägt die Raum-ID nach (`vermerke_raum`) – so findet er nach einem Absturz dazwischen den
Raum wieder, statt einen zweiten anzulegen. Öffnet eine Person selbst einen Direktraum mit
dem Bot, trägt `trage_direktraum_ein` ihn ein.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from modelle.basis import jetzt
from modelle.tabellen import Direktraum

__all__ = [
    "PLATZHALTER",
    "aktiver_direktraum",
    "beabsichtige_direktraum",
    "geltende_direktraeume",
    "gib_direktraum_auf",
    "person_im_direktraum",
    "trage_direktraum_ein",
    "vermerke_raum",
]


# Im Ausgangskorb steht statt einer Raum-ID `direkt:<matrix_id>`, solange der Raum
# nicht gewählt ist: aufgelöst wird erst beim Senden (`bot.zusteller`).
PLATZHALTER = "direkt:"


def _neue_kennung() -> str:
    return secrets.token_hex(16)


async def aktiver_direktraum(sitzung: AsyncSession, matrix_id: str) -> Direktraum | None:
    """Der geltende Direktraum der Person – auch eine Absicht, deren Raum noch fehlt."""
    return await sitzung.scalar(
        select(Direktraum).where(
            Direktraum.matrix_id == matrix_id, Direktraum.aufgegeben_am.is_(None)
        )
    )


async def geltende_direktraeume(sitzung: AsyncSession) -> list[Direktraum]:
    """Alle geltenden Direkträume, auch Absichten, deren Raum noch fehlt."""
    return list(
        (
            await sitzung.scalars(
                select(Direktraum).where(Direktraum.aufgegeben_am.is_(None)).order_by(Direktraum.id)
            )
        ).all()
    )


async def person_im_direktraum(sitzung: AsyncSession, raum_id: str) -> str | None:
    """Die Person, der dieser Raum als geltender Direktraum gehört; sonst None."""
    return await sitzung.scalar(
        select(Direktraum.matrix_id).where(
            Direktraum.raum_id == raum_id, Direktraum.aufgegeben_am.is_(None)
        )
    )


async def beabsichtige_direktraum(sitzung: AsyncSession, matrix_id: str) -> Direktraum:
    """Hält fest, dass der Bot einen Direktraum mit der Person anlegen will.

    Die Absicht muss festgeschrieben sein, bevor der Raum entsteht. Hat die Person schon
    einen geltenden Direktraum, wirft der Commit `IntegrityError`.
    """
    absicht = Direktraum(matrix_id=matrix_id, kennung=_neue_kennung())
    sitzung.add(absicht)
    await sitzung.flush()
    return absicht


async def vermerke_raum(sitzung: AsyncSession, direktraum_id: int, raum_id: str) -> None:
    """Trägt die Raum-ID nach, sobald der Raum zur Absicht existiert."""
    await sitzung.execute(
        update(Direktraum)
        .where(Direktraum.id == direktraum_id)
        .values(raum_id=raum_id)
        .execution_options(synchronize_session=False)
    )


async def gib_direktraum_auf(sitzung: AsyncSession, direktraum_id: int) -> None:
    """Der Raum gilt nicht mehr (die Person hat ihn verlassen o. ä.); der nächste wird neu."""
    await sitzung.execute(
        update(Direktraum)
        .where(Direktraum.id == direktraum_id, Direktraum.aufgegeben_am.is_(None))
        .values(aufgegeben_am=jetzt())
        .execution_options(synchronize_session=False)
    )


async def trage_direktraum_ein(sitzung: AsyncSession, matrix_id: str, raum_id: str) -> Direktraum:
    """Trägt einen Direktraum ein, den die Person selbst mit dem Bot geöffnet hat.

    Er gilt ab jetzt: einen anderen geltenden Direktraum der Person gibt das auf (den Raum zu
    verlassen, ist Sache des Aufrufers). Ist der Raum schon ihr Direktraum, bleibt alles,
    wie es ist; war er es früher, gilt er wieder. Gehört er schon einer anderen Person, ist
    das ein `ValueError`.
    """
    bekannt = await sitzung.scalar(select(Direktraum).where(Direktraum.raum_id == raum_id))
    if bekannt is not None and bekannt.matrix_id != matrix_id:
        raise ValueError(f"Raum {raum_id} ist schon der Direktraum von {bekannt.matrix_id}")
    if bekannt is not None and bekannt.aufgegeben_am is None:
        return bekannt
    await sitzung.execute(
        update(Direktraum)
        .where(Direktraum.matrix_id == matrix_id, Direktraum.aufgegeben_am.is_(None))
        .values(aufgegeben_am=jetzt())
    )
    # Erst die alte aufgeben, dann die neue eintragen: sonst griffe der Teilindex.
    await sitzung.flush()
    if bekannt is not None:
        bekannt.aufgegeben_am = None
        await sitzung.flush()
        return bekannt
    eintrag = Direktraum(matrix_id=matrix_id, raum_id=raum_id, kennung=_neue_kennung())
    sitzung.add(eintrag)
    await sitzung.flush()
    return eintrag
