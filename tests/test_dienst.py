"""Der Dienst `deploy/klimabot.service`: systemd nimmt ihn ohne Einwand an, er ist gehärtet,
und der Bot läuft unter seiner strengsten Einschränkung (kein beschreibbarer ausführbarer
Speicher, `MemoryDenyWriteExecute=yes`)."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.kommandozeile import systemd_analyze

WURZEL = Path(__file__).resolve().parent.parent
DIENST = WURZEL / "deploy" / "klimabot.service"
INSTALLIERT = "/opt/klimabot/bin/klimabot"
# prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN): was systemd für MemoryDenyWriteExecute=yes setzt.
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1


def _dienst_hier(ordner: Path) -> Path:
    """Der Dienst mit dem `klimabot` dieser Umgebung statt /opt/…: `verify` prüft, dass es
    das Programm gibt."""
    klimabot = Path(sys.executable).parent / "klimabot"
    assert klimabot.exists()
    dienst = ordner / "klimabot.service"
    text = DIENST.read_text(encoding="utf-8")
    assert INSTALLIERT in text
    dienst.write_text(text.replace(INSTALLIERT, str(klimabot)), encoding="utf-8")
    return dienst


def test_systemd_nimmt_den_dienst_ohne_einwand_an(tmp_path: Path) -> None:
    lauf = systemd_analyze("verify", "--man=no", str(_dienst_hier(tmp_path)))
    # Unbekannte Schlüssel und falsche Werte sind für systemd nur Warnungen: auch keine davon.
    assert (lauf.returncode, lauf.stderr, lauf.stdout) == (0, "", "")


def test_dienst_ist_gehaertet(tmp_path: Path) -> None:
    """systemds eigene Bewertung: höchstens 2,0 von 10 („OK“; ein ungehärteter Dienst hat 9,6)."""
    lauf = systemd_analyze(
        "security", "--offline=yes", "--threshold=20", "--no-pager", str(_dienst_hier(tmp_path))
    )
    assert lauf.returncode == 0, lauf.stdout[-3000:] + lauf.stderr
    assert "Overall exposure level for klimabot.service: 1." in lauf.stdout


def test_dienst_laeuft_als_eigenes_konto_mit_eigenem_zustand() -> None:
    zeilen = {z.strip() for z in DIENST.read_text(encoding="utf-8").splitlines()}
    assert {
        "User=klimabot",
        "StateDirectory=klimabot",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "MemoryDenyWriteExecute=yes",
        "Restart=on-failure",
        "EnvironmentFile=/etc/klimabot/klimabot.env",
    } <= zeilen


def test_bot_zeichnet_und_verschluesselt_ohne_beschreibbaren_ausfuehrbaren_speicher() -> None:
    """MemoryDenyWriteExecute=yes gilt nur, wenn Python, vodozemac, die ctypes-Rückrufe und der
    Zeichenprozess des Ampeldiagramms ohne W+X-Speicher auskommen. Geprüft mit derselben Sperre
    des Kernels, die systemd setzt (sie erbt sich auf den Zeichenprozess)."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(66, 0, 0, 0, 0) >= 0, "Kernel ohne PR_GET_MDWE (vor Linux 6.3)"
    skript = f"""
        import ctypes, mmap

        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) == 0
        try:
            mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        except PermissionError:
            pass
        else:
            raise SystemExit("Sperre wirkt nicht")

        import vodozemac
        import bot.app  # alles, was `klimabot run` lädt
        from befehle.diagramm import ampel_diagramm
        from tests.ampelverlauf import beispielverlauf

        rueckruf = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x + 1)
        assert rueckruf(1) == 2
        konto = vodozemac.Account()
        assert konto.ed25519_key
        png = ampel_diagramm(beispielverlauf())
        print("ok", len(png))
    """
    lauf = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(skript)],
        cwd=WURZEL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert lauf.returncode == 0, lauf.stderr[-3000:]
    assert lauf.stdout.startswith("ok ")


@pytest.mark.parametrize("schluessel", ["passwort", "schluesselpasswort", "zugangstoken"])
def test_geheimnisse_nicht_im_dienst(schluessel: str) -> None:
    """Geheimnisse stehen in der EnvironmentFile (nur root lesbar), nie in der Unit."""
    assert f"KLIMABOT_MATRIX__{schluessel.upper()}" not in DIENST.read_text(encoding="utf-8")
