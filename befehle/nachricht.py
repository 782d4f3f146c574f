"""Nachrichten bauen: eine Struktur, daraus HTML (`formatted_body`) und lesbarer Klartext (`body`).

Jeder Text, der als `str` hineinkommt, gilt als Benutzertext und wird beim HTML-Rendern
maskiert. HTML entsteht nur aus den Bausteinen hier, nie aus zusammengeklebten Strings.
"""

from __future__ import annotations

import html
import json
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Fett:
    text: str


@dataclass(frozen=True, slots=True)
class Kursiv:
    text: str


@dataclass(frozen=True, slots=True)
class Code:
    text: str


@dataclass(frozen=True, slots=True)
class Erwaehnung:
    """Ein „Pill“ für eine Person; landet auch in `m.mentions`, pingt also absichtlich."""

    matrix_id: str
    name: str


Teil = str | Fett | Kursiv | Code | Erwaehnung
Zeile = Sequence[Teil]

# Wie viel eine Antwort von dem wiederholt, was jemand geschrieben hat („„…“ kenne ich nicht“):
# genug zum Wiedererkennen; ein 100-kB-Argument soll die Antwort nicht sprengen. In Zeichen,
# denn es ist wenig: 60 Zeichen belegen maskiert höchstens 360 Bytes.
WIEDERHOLT_HOECHSTENS = 60

# Wie viele Bytes HTML und Klartext einer Nachricht zusammen belegen dürfen: `bot/inhalt` lässt
# für das ganze Ereignis 60 000 Bytes zu; der Rest bleibt für Bezüge, Erwähnungen und die Liste
# der Projekte (43 Projekte mit 64 Zeichen langem Kürzel: knapp 3 kB).
HOECHSTENS_BYTES = 50_000


# Höchstens so viele Bytes belegt ein Zeichen im Ereignis, für HTML und JSON maskiert (ein
# Steuerzeichen als `\u001f`; `&` als `&amp;` 5; UTF-8 höchstens 4): die Schranke, mit der
# `gekuerzt_auf` und `Nachricht.passt_in` sich das Zählen meist sparen.
_BYTES_JE_ZEICHEN = 6


def gekuerzt(eingabe: str) -> str:
    """Eine Eingabe zum Wiederholen in einer Antwort; Überlanges endet auf „…“.

    Enthält sie Rechts-nach-links-Schrift oder Richtungssteuerzeichen, wird sie isoliert
    (U+2068 … U+2069): sonst könnte sie den Rest der Zeile des Bots umdrehen.
    """
    if len(eingabe) > WIEDERHOLT_HOECHSTENS:
        eingabe = eingabe[: WIEDERHOLT_HOECHSTENS - 1] + "…"
    return _isoliert(eingabe)


def gekuerzt_auf(text: str, hoechstens: int) -> str:
    """Benutzertext für eine Tabellenzelle oder Listenzeile: höchstens `hoechstens` Bytes, sonst
    gekürzt und auf „…“ endend.

    Gezählt wird, was der Text im Matrix-Ereignis belegt – UTF-8, wie er im HTML-`formatted_body`
    steht, maskiert für HTML und JSON (`&` belegt dort 5 Bytes, `"` 2, ein Emoji 4); der
    Klartext im `body` belegt nie mehr. Geschnitten wird nie mitten in einem Zeichen aus
    mehreren Codepunkten (Akzent, Emoji mit Hautfarbe oder Verbinder, Flagge). Rechts-nach-
    links-Schrift wird isoliert wie bei `gekuerzt`; auch das zählt mit.
    """
    isolieren = _braucht_isolation(text)
    platz = hoechstens - (_ISOLATION_BYTES if isolieren else 0)
    # Was nach der Schranke `_BYTES_JE_ZEICHEN` sicher passt, muss niemand zählen.
    if _BYTES_JE_ZEICHEN * len(text) > platz and _bytes(text) > platz:
        platz -= _bytes("…")
        stelle = belegt = 0
        while stelle < len(text) and belegt + _bytes(text[stelle]) <= platz:
            belegt += _bytes(text[stelle])
            stelle += 1
        text = text[: _zeichengrenze(text, stelle)].rstrip() + "…"
    return f"\u2068{text}\u2069" if isolieren else text


def _bytes(text: str) -> int:
    """Bytes, die `text` im HTML eines Matrix-Ereignisses belegt (ohne die Anführungszeichen)."""
    return len(json.dumps(html.escape(text, quote=False), ensure_ascii=False).encode()) - 2


def _fortsetzung(zeichen: str) -> bool:
    """Gehört das Zeichen zu dem davor (Akzent, Variante, Hautfarbe, Verbinder, Tag)?"""
    return (
        unicodedata.category(zeichen) in ("Mn", "Mc", "Me")
        or zeichen == "\u200d"
        or "\ufe00" <= zeichen <= "\ufe0f"
        or "\U0001f3fb" <= zeichen <= "\U0001f3ff"
        or "\U000e0020" <= zeichen <= "\U000e007f"
    )


def _regionalzeichen(zeichen: str) -> bool:
    return "\U0001f1e6" <= zeichen <= "\U0001f1ff"


def _zeichengrenze(text: str, stelle: int) -> int:
    """Die nächste Stelle bis `stelle`, an der kein Zeichen aus mehreren Codepunkten endet."""
    while stelle > 0 and (
        (stelle < len(text) and _fortsetzung(text[stelle])) or text[stelle - 1] == "\u200d"
    ):
        stelle -= 1
    # Flaggen sind Paare von Regionalzeichen: eine ungerade Zahl davor heißt, mitten in einem.
    if stelle < len(text) and _regionalzeichen(text[stelle]):
        davor = stelle
        while davor > 0 and _regionalzeichen(text[davor - 1]):
            davor -= 1
        stelle -= (stelle - davor) % 2
    return stelle


def _braucht_isolation(text: str) -> bool:
    # Unter U+05BE (hebräisch Maqaf) steht kein Zeichen dieser Klassen: Lateinisch, Umlaute und
    # Kyrillisch entscheidet der Vergleich mit dem größten Zeichen, ohne jedes nachzuschlagen.
    if not text or max(text) < _ERSTES_RICHTUNGSZEICHEN:
        return False
    return any(unicodedata.bidirectional(z) in _RICHTUNGSWECHSEL for z in text)


def _isoliert(text: str) -> str:
    return f"\u2068{text}\u2069" if _braucht_isolation(text) else text


_RICHTUNGSWECHSEL = frozenset(
    {"R", "AL", "RLE", "RLO", "LRE", "LRO", "RLI", "LRI", "FSI", "PDF", "PDI"}
)
_ERSTES_RICHTUNGSZEICHEN = "\u05be"
_ISOLATION_BYTES = len("\u2068\u2069".encode())


def _html(teil: Teil) -> str:
    match teil:
        case str():
            return html.escape(teil, quote=False)
        case Fett(text):
            return f"<strong>{html.escape(text, quote=False)}</strong>"
        case Kursiv(text):
            return f"<em>{html.escape(text, quote=False)}</em>"
        case Code(text):
            return f"<code>{html.escape(text, quote=False)}</code>"
        case Erwaehnung(matrix_id, name):
            ziel = html.escape(f"https://matrix.to/#/{matrix_id}", quote=True)
            return f'<a href="{ziel}">{html.escape(name, quote=False)}</a>'


def _text(teil: Teil) -> str:
    match teil:
        case str():
            return teil
        case Fett(text):
            return f"*{text}*"
        case Kursiv(text):
            return f"_{text}_"
        case Code(text):
            return f"`{text}`"
        case Erwaehnung(_, name):
            return name


def _zeile_html(zeile: Zeile) -> str:
    return "".join(_html(t) for t in zeile)


def _zeile_text(zeile: Zeile) -> str:
    return "".join(_text(t) for t in zeile)


@dataclass(frozen=True, slots=True)
class _Absatz:
    zeilen: tuple[tuple[Teil, ...], ...]


@dataclass(frozen=True, slots=True)
class _Liste:
    punkte: tuple[tuple[Teil, ...], ...]


@dataclass(frozen=True, slots=True)
class _Tabelle:
    kopf: tuple[str, ...]
    zeilen: tuple[tuple[tuple[Teil, ...], ...], ...]
    # Klartextform je Zeile: Tabellen in `body` sind unlesbar, darum eine Zeile je Eintrag.
    textzeilen: tuple[tuple[Teil, ...], ...]


_Block = _Absatz | _Liste | _Tabelle


def _als_zeile(zeile: Teil | Zeile) -> tuple[Teil, ...]:
    if isinstance(zeile, str | Fett | Kursiv | Code | Erwaehnung):
        return (zeile,)
    return tuple(zeile)


@dataclass(slots=True)
class Nachricht:
    """Eine Nachricht aus Absätzen, Listen und Tabellen."""

    bloecke: list[_Block] = field(default_factory=list)
    # HTML und Klartext, einmal gerendert je Zahl der Blöcke: Größenprüfung, Inhalt des
    # Ereignisses und Ausgangskorb fragen dasselbe. Blöcke sind unveränderlich und kommen nur
    # hinzu, die Zahl genügt als Stand.
    _gerendert: dict[str, tuple[int, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def absatz(self, *zeilen: Teil | Zeile) -> Nachricht:
        """Ein Absatz; jedes Argument ist eine Zeile (ein Teil oder eine Folge von Teilen)."""
        self.bloecke.append(_Absatz(tuple(_als_zeile(z) for z in zeilen)))
        return self

    def liste(self, punkte: Iterable[Teil | Zeile]) -> Nachricht:
        self.bloecke.append(_Liste(tuple(_als_zeile(p) for p in punkte)))
        return self

    def tabelle(
        self,
        kopf: Sequence[str],
        zeilen: Iterable[Sequence[Teil | Zeile]],
        textzeilen: Iterable[Teil | Zeile],
    ) -> Nachricht:
        self.bloecke.append(
            _Tabelle(
                tuple(kopf),
                tuple(tuple(_als_zeile(zelle) for zelle in zeile) for zeile in zeilen),
                tuple(_als_zeile(z) for z in textzeilen),
            )
        )
        return self

    @property
    def erwaehnte(self) -> list[str]:
        """Die Matrix-IDs aller Erwähnungen, in Reihenfolge, ohne Doppelte."""
        gesehen: dict[str, None] = {}
        for block in self.bloecke:
            for zeile in _alle_zeilen(block):
                for teil in zeile:
                    if isinstance(teil, Erwaehnung):
                        gesehen.setdefault(teil.matrix_id, None)
        return list(gesehen)

    @property
    def html(self) -> str:
        return self._einmal("html", lambda: "".join(_block_html(b) for b in self.bloecke))

    @property
    def text(self) -> str:
        return self._einmal("text", lambda: "\n\n".join(_block_text(b) for b in self.bloecke))

    def _einmal(self, art: str, rendere: Callable[[], str]) -> str:
        stand = len(self.bloecke)
        gemerkt = self._gerendert.get(art)
        if gemerkt is None or gemerkt[0] != stand:
            gemerkt = self._gerendert[art] = (stand, rendere())
        return gemerkt[1]

    @property
    def groesse(self) -> int:
        """Bytes, die HTML und Klartext im Matrix-Ereignis belegen (UTF-8, für JSON maskiert)."""
        return sum(
            len(json.dumps(teil, ensure_ascii=False).encode()) for teil in (self.html, self.text)
        )

    def passt_in(self, hoechstens: int) -> bool:
        """`groesse` ≤ `hoechstens`, meist ohne zu zählen (Schranke `_BYTES_JE_ZEICHEN`, dazu je
        zwei Anführungszeichen)."""
        zeichen = len(self.html) + len(self.text)
        return _BYTES_JE_ZEICHEN * zeichen + 4 <= hoechstens or self.groesse <= hoechstens


def _alle_zeilen(block: _Block) -> Iterable[tuple[Teil, ...]]:
    match block:
        case _Absatz(zeilen):
            return zeilen
        case _Liste(punkte):
            return punkte
        case _Tabelle(_, zeilen, textzeilen):
            return [*(teil for zeile in zeilen for teil in zeile), *textzeilen]


def _block_html(block: _Block) -> str:
    match block:
        case _Absatz(zeilen):
            return "<p>" + "<br>".join(_zeile_html(z) for z in zeilen) + "</p>"
        case _Liste(punkte):
            return "<ul>" + "".join(f"<li>{_zeile_html(p)}</li>" for p in punkte) + "</ul>"
        case _Tabelle(kopf, zeilen, _):
            kopfzeile = "".join(f"<th>{html.escape(k, quote=False)}</th>" for k in kopf)
            koerper = "".join(
                "<tr>" + "".join(f"<td>{_zeile_html(zelle)}</td>" for zelle in zeile) + "</tr>"
                for zeile in zeilen
            )
            return f"<table><thead><tr>{kopfzeile}</tr></thead><tbody>{koerper}</tbody></table>"


def _block_text(block: _Block) -> str:
    match block:
        case _Absatz(zeilen):
            return "\n".join(_zeile_text(z) for z in zeilen)
        case _Liste(punkte):
            return "\n".join(f"• {_zeile_text(p)}" for p in punkte)
        case _Tabelle(_, _, textzeilen):
            return "\n".join(_zeile_text(z) for z in textzeilen)
