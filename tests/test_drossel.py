"""Die Drossel je Absender*in, mit eingespeister Uhr: wann gebremst, übergangen, geantwortet wird.

Was die Person im Chat davon merkt, prüft `tests/test_missbrauch.py` (Testbot) und
`tests/integration/test_flut.py` (gegen Synapse).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.drossel import PAUSE, STOSS, Anlass, Drossel, Urteil

FLUTENDE = "@flut:muenster.de"
ANDERE = "@anna.becker:muenster.de"


@dataclass
class Uhr:
    sekunden: float = 1000.0

    def __call__(self) -> float:
        return self.sekunden


def _urteile(drossel: Drossel, anzahl: int, *, absender: str = FLUTENDE) -> list[Urteil]:
    return [drossel.ereignis(absender, meint_den_bot=True) for _ in range(anzahl)]


def test_flut_wird_nach_dem_stoss_einmal_gebremst_und_dann_uebergangen() -> None:
    drossel = Drossel(uhr=Uhr())
    urteile = _urteile(drossel, 200)
    assert urteile[:STOSS] == [Urteil.BEHANDELN] * STOSS
    assert urteile[STOSS] is Urteil.BREMSEN
    assert set(urteile[STOSS + 1 :]) == {Urteil.UEBERGEHEN}


def test_die_flut_einer_person_beruehrt_andere_nicht() -> None:
    drossel = Drossel(uhr=Uhr())
    _urteile(drossel, 200)
    assert drossel.ereignis(ANDERE, meint_den_bot=True) is Urteil.BEHANDELN


def test_wer_43_abfragezeilen_zuegig_bestaetigt_wird_nie_gebremst() -> None:
    """Eine große Abfrage hat 43 Zeilen; mit Element braucht ein Tipp auf 🟢 gut eine Sekunde."""
    uhr = Uhr()
    drossel = Drossel(uhr=uhr)
    for _ in range(43):
        assert drossel.ereignis(ANDERE, meint_den_bot=True) is Urteil.BEHANDELN
        uhr.sekunden += 1.0


def test_wer_eine_minute_lang_jede_sekunde_schreibt_wird_nie_gebremst() -> None:
    uhr = Uhr()
    drossel = Drossel(uhr=uhr)
    for _ in range(600):
        assert drossel.ereignis(ANDERE, meint_den_bot=True) is Urteil.BEHANDELN
        uhr.sekunden += 1.0


def test_nach_der_pause_ist_die_person_wieder_dran() -> None:
    uhr = Uhr()
    drossel = Drossel(uhr=uhr)
    _urteile(drossel, STOSS + 5)
    uhr.sekunden += PAUSE / 2
    assert drossel.ereignis(FLUTENDE, meint_den_bot=True) is Urteil.UEBERGEHEN
    uhr.sekunden += PAUSE / 2
    assert drossel.ereignis(FLUTENDE, meint_den_bot=True) is Urteil.BEHANDELN


def test_anhaltende_flut_verlaengert_die_pause_ohne_zweite_warnung() -> None:
    uhr = Uhr()
    drossel = Drossel(uhr=uhr)
    urteile = []
    for _ in range(3000):  # fünf Minuten lang zehn Befehle je Sekunde
        urteile.append(drossel.ereignis(FLUTENDE, meint_den_bot=True))
        uhr.sekunden += 0.1
    assert urteile.count(Urteil.BREMSEN) == 1
    # Behandelt wird nur der Anfang (der Stoß, dazu was in den zwei Sekunden nachkam); in der
    # Pause kommen Marken nach und werden verbraucht, behandelt wird nichts davon.
    behandelt = urteile.index(Urteil.BREMSEN)
    assert urteile[:behandelt] == [Urteil.BEHANDELN] * behandelt
    assert STOSS <= behandelt <= STOSS + 3
    assert Urteil.BEHANDELN not in urteile[behandelt:]
    uhr.sekunden += PAUSE
    assert drossel.ereignis(FLUTENDE, meint_den_bot=True) is Urteil.BEHANDELN


def test_wer_nach_der_warnung_langsam_schreibt_ist_nach_der_pause_wieder_dran() -> None:
    uhr = Uhr()
    drossel = Drossel(uhr=uhr)
    _urteile(drossel, STOSS + 1)
    urteile = []
    for _ in range(6):
        uhr.sekunden += 15
        urteile.append(drossel.ereignis(FLUTENDE, meint_den_bot=True))
    assert urteile == [Urteil.UEBERGEHEN] * 3 + [Urteil.BEHANDELN] * 3


def test_plauderei_zaehlt_gebremst_wird_erst_wer_den_bot_meint() -> None:
    """Die Warnung antwortet auf einen Befehl, nie auf Plauderei."""
    drossel = Drossel(uhr=Uhr())
    plauderei = [drossel.ereignis(FLUTENDE, meint_den_bot=False) for _ in range(STOSS + 10)]
    assert plauderei[STOSS:] == [Urteil.UEBERGEHEN] * 10
    assert drossel.ereignis(FLUTENDE, meint_den_bot=True) is Urteil.BREMSEN
    assert drossel.ereignis(FLUTENDE, meint_den_bot=True) is Urteil.UEBERGEHEN


def test_absage_und_hinweis_hoechstens_einmal_je_minute_und_anlass() -> None:
    uhr = Uhr()
    drossel = Drossel(uhr=uhr)
    assert drossel.einmal(FLUTENDE, Anlass.ABSAGE, "$1")
    assert not drossel.einmal(FLUTENDE, Anlass.ABSAGE, "$2")
    assert drossel.einmal(FLUTENDE, Anlass.UNLESBAR, "$3")
    assert not drossel.einmal(FLUTENDE, Anlass.UNLESBAR, "$4")
    assert drossel.einmal(ANDERE, Anlass.ABSAGE, "$5")
    uhr.sekunden += 59
    assert not drossel.einmal(FLUTENDE, Anlass.ABSAGE, "$6")
    uhr.sekunden += 1
    assert drossel.einmal(FLUTENDE, Anlass.ABSAGE, "$7")


def test_ein_wiederholter_versuch_desselben_ereignisses_darf_noch_einmal_absagen() -> None:
    """Scheitert die Transaktion mit der Absage an der Datenbank, bringt der nächste Versuch sie."""
    drossel = Drossel(uhr=Uhr())
    assert drossel.einmal(FLUTENDE, Anlass.ABSAGE, "$1")
    assert drossel.einmal(FLUTENDE, Anlass.ABSAGE, "$1")
    assert not drossel.einmal(FLUTENDE, Anlass.ABSAGE, "$2")


def test_das_gedaechtnis_bleibt_begrenzt() -> None:
    drossel = Drossel(uhr=Uhr(), gedaechtnis=100)
    for nummer in range(1000):
        drossel.ereignis(f"@p{nummer}:muenster.de", meint_den_bot=True)
    assert len(drossel._personen) == 100
    # Wer herausfiel, beginnt mit vollem Eimer.
    assert drossel.ereignis("@p0:muenster.de", meint_den_bot=True) is Urteil.BEHANDELN
