"""Die Drossel je Absender*in, mit eingespeister Uhr: wann gebremst, übergangen, geantwortet wird.

Die Uhr der Drossel sind die Zeitpunkte der Ereignisse; hier setzt der Test sie. Was die Person im
Chat davon merkt, prüfen `tests/test_missbrauch.py` (Testbot) und `tests/integration/test_flut.py`
(gegen Synapse).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.drossel import PAUSE, STOSS, Anlass, Drossel, Urteil

FLUTENDE = "@flut:muenster.de"
ANDERE = "@anna.becker:muenster.de"


@dataclass
class Gedrosselt:
    """Die Drossel mit eingespeister Uhr: jedes Ereignis trägt `sekunden` als Zeitpunkt."""

    drossel: Drossel = field(default_factory=Drossel)
    sekunden: float = 1_764_000_000.0

    def ereignis(self, absender: str = FLUTENDE, *, meint_den_bot: bool = True) -> Urteil:
        return self.drossel.ereignis(absender, self.sekunden, meint_den_bot=meint_den_bot)

    def ereignisse(self, anzahl: int, absender: str = FLUTENDE) -> list[Urteil]:
        return [self.ereignis(absender) for _ in range(anzahl)]

    def einmal(self, absender: str, anlass: Anlass, event_id: str) -> bool:
        return self.drossel.einmal(absender, anlass, event_id, self.sekunden)


def test_flut_wird_nach_dem_stoss_einmal_gebremst_und_dann_uebergangen() -> None:
    urteile = Gedrosselt().ereignisse(200)
    assert urteile[:STOSS] == [Urteil.BEHANDELN] * STOSS
    assert urteile[STOSS] is Urteil.BREMSEN
    assert set(urteile[STOSS + 1 :]) == {Urteil.UEBERGEHEN}


def test_die_flut_einer_person_beruehrt_andere_nicht() -> None:
    gedrosselt = Gedrosselt()
    gedrosselt.ereignisse(200)
    assert gedrosselt.ereignis(ANDERE) is Urteil.BEHANDELN


def test_wer_43_abfragezeilen_zuegig_bestaetigt_wird_nie_gebremst() -> None:
    """Eine große Abfrage hat 43 Zeilen; mit Element braucht ein Tipp auf 🟢 gut eine Sekunde."""
    gedrosselt = Gedrosselt()
    for _ in range(43):
        assert gedrosselt.ereignis(ANDERE) is Urteil.BEHANDELN
        gedrosselt.sekunden += 1.0


def test_wer_zehn_minuten_lang_jede_sekunde_schreibt_wird_nie_gebremst() -> None:
    gedrosselt = Gedrosselt()
    for _ in range(600):
        assert gedrosselt.ereignis(ANDERE) is Urteil.BEHANDELN
        gedrosselt.sekunden += 1.0


def test_nachgeholte_ereignisse_zaehlen_zu_ihrer_zeit_nicht_als_flut() -> None:
    """Nach einem Ausfall kommen die Tipps einer Viertelstunde auf einmal, mit ihren Zeitpunkten."""
    drossel = Drossel()
    beginn = 1_764_000_000.0
    urteile = [
        drossel.ereignis(ANDERE, beginn + 20 * nummer, meint_den_bot=True) for nummer in range(45)
    ]
    assert set(urteile) == {Urteil.BEHANDELN}


def test_die_uhr_einer_person_laeuft_nur_vorwaerts() -> None:
    """Ein älterer Zeitpunkt nach neueren (etwas Nachgeholtes mitten in der Flut) stellt die Uhr
    nicht zurück – sonst füllte der nächste neue Zeitpunkt den Eimer und beendete die Pause."""
    drossel = Drossel()
    spaet, frueh = 1_764_000_100.0, 1_764_000_000.0
    for _ in range(STOSS):
        drossel.ereignis(FLUTENDE, spaet, meint_den_bot=True)
    assert drossel.ereignis(FLUTENDE, frueh, meint_den_bot=True) is Urteil.BREMSEN
    assert drossel.ereignis(FLUTENDE, spaet + 1, meint_den_bot=True) is Urteil.UEBERGEHEN


def test_nach_der_pause_ist_die_person_wieder_dran() -> None:
    gedrosselt = Gedrosselt()
    gedrosselt.ereignisse(STOSS + 5)
    gedrosselt.sekunden += PAUSE / 2
    assert gedrosselt.ereignis() is Urteil.UEBERGEHEN
    gedrosselt.sekunden += PAUSE / 2
    assert gedrosselt.ereignis() is Urteil.BEHANDELN


def test_anhaltende_flut_verlaengert_die_pause_ohne_zweite_warnung() -> None:
    gedrosselt = Gedrosselt()
    urteile = []
    for _ in range(3000):  # fünf Minuten lang zehn Befehle je Sekunde
        urteile.append(gedrosselt.ereignis())
        gedrosselt.sekunden += 0.1
    assert urteile.count(Urteil.BREMSEN) == 1
    # Behandelt wird nur der Anfang (der Stoß, dazu was in den zwei Sekunden nachkam); in der
    # Pause kommen Marken nach und werden verbraucht, behandelt wird nichts davon.
    behandelt = urteile.index(Urteil.BREMSEN)
    assert urteile[:behandelt] == [Urteil.BEHANDELN] * behandelt
    assert STOSS <= behandelt <= STOSS + 3
    assert Urteil.BEHANDELN not in urteile[behandelt:]
    gedrosselt.sekunden += PAUSE
    assert gedrosselt.ereignis() is Urteil.BEHANDELN


def test_wer_nach_der_warnung_langsam_schreibt_ist_nach_der_pause_wieder_dran() -> None:
    gedrosselt = Gedrosselt()
    gedrosselt.ereignisse(STOSS + 1)
    urteile = []
    for _ in range(6):
        gedrosselt.sekunden += 15
        urteile.append(gedrosselt.ereignis())
    assert urteile == [Urteil.UEBERGEHEN] * 3 + [Urteil.BEHANDELN] * 3


def test_plauderei_zaehlt_gebremst_wird_erst_wer_den_bot_meint() -> None:
    """Die Warnung antwortet auf einen Befehl, nie auf Plauderei."""
    gedrosselt = Gedrosselt()
    plauderei = [gedrosselt.ereignis(meint_den_bot=False) for _ in range(STOSS + 10)]
    assert plauderei[STOSS:] == [Urteil.UEBERGEHEN] * 10
    assert gedrosselt.ereignis() is Urteil.BREMSEN
    assert gedrosselt.ereignis() is Urteil.UEBERGEHEN


def test_absage_und_hinweis_hoechstens_einmal_je_minute_und_anlass() -> None:
    gedrosselt = Gedrosselt()
    assert gedrosselt.einmal(FLUTENDE, Anlass.ABSAGE, "$1")
    assert not gedrosselt.einmal(FLUTENDE, Anlass.ABSAGE, "$2")
    assert gedrosselt.einmal(FLUTENDE, Anlass.UNLESBAR, "$3")
    assert not gedrosselt.einmal(FLUTENDE, Anlass.UNLESBAR, "$4")
    assert gedrosselt.einmal(ANDERE, Anlass.ABSAGE, "$5")
    gedrosselt.sekunden += 59
    assert not gedrosselt.einmal(FLUTENDE, Anlass.ABSAGE, "$6")
    gedrosselt.sekunden += 1
    assert gedrosselt.einmal(FLUTENDE, Anlass.ABSAGE, "$7")


def test_ein_wiederholter_versuch_desselben_ereignisses_darf_noch_einmal_absagen() -> None:
    """Scheitert die Transaktion mit der Absage an der Datenbank, bringt der nächste Versuch sie."""
    gedrosselt = Gedrosselt()
    assert gedrosselt.einmal(FLUTENDE, Anlass.ABSAGE, "$1")
    assert gedrosselt.einmal(FLUTENDE, Anlass.ABSAGE, "$1")
    assert not gedrosselt.einmal(FLUTENDE, Anlass.ABSAGE, "$2")


def test_das_gedaechtnis_bleibt_begrenzt() -> None:
    gedrosselt = Gedrosselt(Drossel(gedaechtnis=100))
    for nummer in range(1000):
        gedrosselt.ereignis(f"@p{nummer}:muenster.de")
    assert gedrosselt.drossel.gemerkte == 100
    # Wer herausfiel, beginnt mit vollem Eimer.
    assert gedrosselt.ereignis("@p0:muenster.de") is Urteil.BEHANDELN


def test_ohne_flutgrenze_wird_nichts_uebergangen_absagen_bleiben_begrenzt() -> None:
    """`flut_stoss = 0` in der Konfiguration, etwa für `make bench`."""
    gedrosselt = Gedrosselt(Drossel(stoss=None))
    assert set(gedrosselt.ereignisse(1000)) == {Urteil.BEHANDELN}
    assert gedrosselt.einmal(FLUTENDE, Anlass.ABSAGE, "$1")
    assert not gedrosselt.einmal(FLUTENDE, Anlass.ABSAGE, "$2")
