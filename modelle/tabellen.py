"""Die Tabellen des Patenschaftsmodells und seiner Statusmeldungen.

Integrität liegt in der Datenbank, nicht nur in Python: eindeutige Slugs, Fremdschlüssel,
Prüfungen auf Ampelwerte und Fortschritt 0–100, höchstens eine Pat*in je Themenfeld.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from modelle.basis import Basis, UTCZeit, jetzt
from modelle.werte import Ampel, Quelle, Rolle


def _werte(enum_klasse: type[Ampel] | type[Rolle] | type[Quelle]) -> str:
    return ", ".join(f"'{w.value}'" for w in enum_klasse)


class Themenfeld(Basis):
    __tablename__ = "themenfeld"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    aliase: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Zeitplan der Abfrage ("mo 09:00", "mo,do 09:00" oder Cron); leer = Vorgabe der Konfiguration.
    abfrage: Mapped[str | None] = mapped_column(String(200))
    ueberfaellig_nach_tagen: Mapped[int] = mapped_column(Integer, default=14)
    reihenfolge: Mapped[int] = mapped_column(Integer, default=0)
    archiviert: Mapped[bool] = mapped_column(Boolean, default=False)

    projekte: Mapped[list[Strategieprojekt]] = relationship(
        back_populates="themenfeld", lazy="raise", order_by="Strategieprojekt.reihenfolge"
    )
    raum: Mapped[Raum | None] = relationship(back_populates="themenfeld", lazy="raise")

    __table_args__ = (CheckConstraint("ueberfaellig_nach_tagen > 0", name="ueberfaellig_positiv"),)


class Raum(Basis):
    """Ein Matrix-Raum, den der Bot bedient: der eines Themenfelds oder der Stabsstelle."""

    __tablename__ = "raum"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Wie konfiguriert: Alias (#energie:example.org) oder Raum-ID (!abc:example.org).
    adresse: Mapped[str] = mapped_column(String(255), unique=True)
    # Die vom Homeserver aufgelöste Raum-ID, sobald der Bot sie kennt.
    raum_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    themenfeld_id: Mapped[int | None] = mapped_column(
        ForeignKey("themenfeld.id", ondelete="CASCADE"), unique=True
    )
    ist_stabsstelle: Mapped[bool] = mapped_column(Boolean, default=False)

    themenfeld: Mapped[Themenfeld | None] = relationship(back_populates="raum", lazy="raise")

    __table_args__ = (
        CheckConstraint(
            "(themenfeld_id IS NULL) = ist_stabsstelle", name="themenfeld_oder_stabsstelle"
        ),
        Index(
            "uq_raum_stabsstelle",
            "ist_stabsstelle",
            unique=True,
            sqlite_where=text("ist_stabsstelle"),
            postgresql_where=text("ist_stabsstelle"),
        ),
    )


class Person(Basis):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    matrix_id: Mapped[str] = mapped_column(String(255), unique=True)
    anzeigename: Mapped[str] = mapped_column(String(200))

    rollen: Mapped[list[Rollenzuweisung]] = relationship(back_populates="person", lazy="raise")


class Rollenzuweisung(Basis):
    """Pat*in oder Koordinator*in eines Themenfelds, oder Mitglied der Stabsstelle."""

    __tablename__ = "rollenzuweisung"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    rolle: Mapped[Rolle] = mapped_column(String(16))
    themenfeld_id: Mapped[int | None] = mapped_column(
        ForeignKey("themenfeld.id", ondelete="CASCADE")
    )

    person: Mapped[Person] = relationship(back_populates="rollen", lazy="raise")
    themenfeld: Mapped[Themenfeld | None] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint(f"rolle IN ({_werte(Rolle)})", name="rolle_bekannt"),
        CheckConstraint(
            "(rolle = 'stabsstelle') = (themenfeld_id IS NULL)", name="themenfeld_passend"
        ),
        Index("uq_rollenzuweisung_feldrolle", "person_id", "rolle", "themenfeld_id", unique=True),
        Index(
            "uq_rollenzuweisung_stabsstelle",
            "person_id",
            unique=True,
            sqlite_where=text("rolle = 'stabsstelle'"),
            postgresql_where=text("rolle = 'stabsstelle'"),
        ),
        Index(
            "uq_rollenzuweisung_eine_patin",
            "themenfeld_id",
            unique=True,
            sqlite_where=text("rolle = 'patin'"),
            postgresql_where=text("rolle = 'patin'"),
        ),
    )


class Strategieprojekt(Basis):
    __tablename__ = "strategieprojekt"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    themenfeld_id: Mapped[int] = mapped_column(ForeignKey("themenfeld.id"), index=True)
    titel: Mapped[str] = mapped_column(String(300))
    beschreibung: Mapped[str] = mapped_column(Text, default="")
    aliase: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Wirkungspotenzial in Tonnen CO₂-Äquivalent pro Jahr.
    wirkungspotenzial: Mapped[float | None] = mapped_column(Float)
    start: Mapped[dt.date | None] = mapped_column(Date)
    geplantes_ende: Mapped[dt.date | None] = mapped_column(Date)
    reihenfolge: Mapped[int] = mapped_column(Integer, default=0)
    archiviert: Mapped[bool] = mapped_column(Boolean, default=False)

    themenfeld: Mapped[Themenfeld] = relationship(back_populates="projekte", lazy="raise")

    __table_args__ = (
        CheckConstraint(
            "wirkungspotenzial IS NULL OR wirkungspotenzial >= 0", name="wirkung_nicht_negativ"
        ),
        CheckConstraint(
            "start IS NULL OR geplantes_ende IS NULL OR geplantes_ende >= start",
            name="ende_nach_start",
        ),
    )


class Statusmeldung(Basis):
    """Eine Meldung zu einem Projekt. Zurückgezogene bleiben für die Nachvollziehbarkeit."""

    __tablename__ = "statusmeldung"

    id: Mapped[int] = mapped_column(primary_key=True)
    projekt_id: Mapped[int] = mapped_column(ForeignKey("strategieprojekt.id"))
    # Leer bei Anfangsständen aus der Strukturdatei.
    autor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    zeitpunkt: Mapped[dt.datetime] = mapped_column(UTCZeit(), default=jetzt)
    ampel: Mapped[Ampel] = mapped_column(String(16))
    fortschritt: Mapped[int | None] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text, default="")
    herausforderungen: Mapped[str | None] = mapped_column(Text)
    quelle: Mapped[Quelle] = mapped_column(String(16))
    # Das Matrix-Ereignis, aus dem die Meldung stammt (Nachricht oder Reaktion).
    event_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    raum_id: Mapped[str | None] = mapped_column(String(255))
    bearbeitet_am: Mapped[dt.datetime | None] = mapped_column(UTCZeit())
    zurueckgezogen: Mapped[bool] = mapped_column(Boolean, default=False)
    zurueckgezogen_am: Mapped[dt.datetime | None] = mapped_column(UTCZeit())

    projekt: Mapped[Strategieprojekt] = relationship(lazy="raise")
    autor: Mapped[Person | None] = relationship(lazy="raise")

    __table_args__ = (
        CheckConstraint(f"ampel IN ({_werte(Ampel)})", name="ampel_bekannt"),
        CheckConstraint(f"quelle IN ({_werte(Quelle)})", name="quelle_bekannt"),
        CheckConstraint(
            "fortschritt IS NULL OR (fortschritt >= 0 AND fortschritt <= 100)",
            name="fortschritt_prozent",
        ),
        # Der Stand eines Projekts zu jedem Zeitpunkt allein aus dem Index: neueste gültige
        # Meldung bis …, in der Reihenfolge (zeitpunkt, id), nach der „die neueste“ bestimmt
        # wird (gemessen bei 84 000 Meldungen, SQLite: die 3 400 Abstiege des Ampelverlaufs
        # 5 statt 33 ms, weil keine Tabellenzeile mehr gelesen wird).
        Index(
            "ix_statusmeldung_projekt_stand",
            "projekt_id",
            "zeitpunkt",
            "id",
            "zurueckgezogen",
            "ampel",
        ),
        # Für „alle Meldungen eines Zeitraums“ (Ampelwechsel im Wochenbericht, Ampelverlauf in
        # PostgreSQL): ohne ihn liest die Abfrage jede Meldung, ohne die übrigen Spalten jede
        # Meldung des Zeitraums noch einmal aus der Tabelle (gemessen bei 84 000 Meldungen,
        # SQLite: die Ampelwechsel einer Woche 2 statt 3 ms).
        Index(
            "ix_statusmeldung_zeitraum",
            "zeitpunkt",
            "projekt_id",
            "id",
            "zurueckgezogen",
            "ampel",
        ),
    )


class Aenderung(Basis):
    """Ein Eintrag im Änderungsprotokoll der Struktur: wer hat wann was geändert, alt → neu."""

    __tablename__ = "aenderung"

    id: Mapped[int] = mapped_column(primary_key=True)
    zeitpunkt: Mapped[dt.datetime] = mapped_column(UTCZeit(), default=jetzt, index=True)
    wer: Mapped[str] = mapped_column(String(255))
    # z. B. "themenfeld", "projekt", "person", "rolle"
    objekt_art: Mapped[str] = mapped_column(String(32))
    objekt: Mapped[str] = mapped_column(String(255))
    feld: Mapped[str] = mapped_column(String(64))
    alt: Mapped[str | None] = mapped_column(Text)
    neu: Mapped[str | None] = mapped_column(Text)


# --- Betrieb des Bots -------------------------------------------------------------------


class Zustand(Basis):
    """Was der Bot über Neustarts behält: Gerät, Zugangstoken, Sync-Position."""

    __tablename__ = "zustand"

    schluessel: Mapped[str] = mapped_column(String(64), primary_key=True)
    wert: Mapped[str] = mapped_column(Text)


class Strukturstand(Basis):
    """Eine Zeile, deren Zähler Trigger bei jeder Änderung der Struktur erhöhen.

    Themenfelder, Projekte, Personen, Rollen, Räume: wer sie auch ändert – der Bot, die
    Konsole in einem anderen Prozess, jemand mit SQL –, der Zähler steigt in derselben
    Transaktion. So darf der Bot sein Verzeichnis im Speicher halten und prüft je Ereignis
    nur diese eine Zahl (Migration 0005). `meldungen` zählt ebenso jede Änderung an
    Statusmeldungen (Migration 0009): Lesebefehle beantwortet der Bot aus einem Lagebild im
    Speicher, solange beide Zahlen stehen (`modelle.verzeichnis.VerzeichnisSpeicher`).
    """

    __tablename__ = "strukturstand"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    meldungen: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class VerarbeitetesEreignis(Basis):
    """Ein schon behandeltes Matrix-Ereignis: nach Neustart oder Wiederholung nie doppelt."""

    __tablename__ = "verarbeitetes_ereignis"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    zeitpunkt: Mapped[dt.datetime] = mapped_column(UTCZeit(), default=jetzt, index=True)


class Ausgang(Basis):
    """Eine ausgehende Nachricht oder Reaktion.

    Sie wird in derselben Transaktion gespeichert wie das, worauf sie antwortet, und erst
    danach gesendet. Die feste `txn_id` macht ein erneutes Senden nach Absturz oder
    Netzfehler idempotent: der Homeserver legt dieselbe Transaktion nicht zweimal an.
    """

    __tablename__ = "ausgang"

    id: Mapped[int] = mapped_column(primary_key=True)
    txn_id: Mapped[str] = mapped_column(String(64), unique=True)
    raum_id: Mapped[str] = mapped_column(String(255))
    ereignistyp: Mapped[str] = mapped_column(String(64))
    inhalt: Mapped[dict[str, object]] = mapped_column(JSON)
    # Projekte, auf die sich die Nachricht bezieht: Antworten und Reaktionen darauf gelten ihnen.
    projekte: Mapped[list[str]] = mapped_column(JSON, default=list)
    erstellt: Mapped[dt.datetime] = mapped_column(UTCZeit(), default=jetzt)
    versuche: Mapped[int] = mapped_column(Integer, default=0)
    letzter_fehler: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    gesendet_am: Mapped[dt.datetime | None] = mapped_column(UTCZeit())
    # Nach der Grenze der Versuche nicht zustellbar (etwa: der Bot ist nicht im Raum); der
    # nächste Wochenbericht nennt die Nachricht. Offen ist, was weder gesendet noch aufgegeben ist.
    aufgegeben_am: Mapped[dt.datetime | None] = mapped_column(UTCZeit())

    __table_args__ = (
        Index(
            "ix_ausgang_offen",
            "id",
            sqlite_where=text("gesendet_am IS NULL AND aufgegeben_am IS NULL"),
            postgresql_where=text("gesendet_am IS NULL AND aufgegeben_am IS NULL"),
        ),
        # Für den Wochenbericht: die wenigen aufgegebenen unter allen je gesendeten.
        Index(
            "ix_ausgang_aufgegeben",
            "aufgegeben_am",
            sqlite_where=text("aufgegeben_am IS NOT NULL"),
            postgresql_where=text("aufgegeben_am IS NOT NULL"),
        ),
    )


class Direktraum(Basis):
    """Der Direktraum des Bots mit einer Person (Erinnerungen an die Pat*in).

    Angelegt wird in zwei Schritten, damit ein Absturz dazwischen keinen zweiten Raum ergibt:
    erst die Absicht mit zufälliger `kennung` (ohne `raum_id`), dann der Raum, in dem die
    Kennung als Zustandsereignis steht; findet der Bot nach einem Neustart eine Absicht ohne
    Raum, sucht er unter seinen Räumen nach der Kennung. Hat die Person den Raum verlassen,
    wird er aufgegeben und beim nächsten Mal ein neuer angelegt. Je Person ist höchstens
    einer nicht aufgegeben.
    """

    __tablename__ = "direktraum"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Die Person, der der Raum gilt.
    matrix_id: Mapped[str] = mapped_column(String(255))
    # Sobald der Raum existiert.
    raum_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    kennung: Mapped[str] = mapped_column(String(64), unique=True)
    erstellt: Mapped[dt.datetime] = mapped_column(UTCZeit(), default=jetzt)
    # Die Person hat ihn verlassen (o. ä.): nicht mehr benutzen.
    aufgegeben_am: Mapped[dt.datetime | None] = mapped_column(UTCZeit())

    __table_args__ = (
        Index(
            "uq_direktraum_aktiv",
            "matrix_id",
            unique=True,
            sqlite_where=text("aufgegeben_am IS NULL"),
            postgresql_where=text("aufgegeben_am IS NULL"),
        ),
    )


# --- Geplante Nachrichten ---------------------------------------------------------------


class Versandart(enum.StrEnum):
    ABFRAGE = "abfrage"
    WOCHENBERICHT = "wochenbericht"
    ERINNERUNG = "erinnerung"
    # Die Erinnerung als Direktnachricht an die Pat*in, wenn die im Raum unbeantwortet blieben.
    ERINNERUNG_DM = "erinnerung_dm"


class Versandstatus(enum.StrEnum):
    GESENDET = "gesendet"
    # Gesendet, aber nach der geplanten Zeit (innerhalb der Nachholfrist); die Nachricht sagt es.
    VERSPAETET = "verspaetet"
    # Bewusst nicht gesendet, weil die Nachholfrist vorbei war; der Wochenbericht nennt es.
    UEBERSPRUNGEN = "uebersprungen"


def _liste(enum_klasse: type[Versandart] | type[Versandstatus]) -> str:
    return ", ".join(f"'{w.value}'" for w in enum_klasse)


class Versand(Basis):
    """Was der Bot zu welcher Periode geplant gesendet oder bewusst übersprungen hat.

    Diese Aufzeichnung, nicht das Gedächtnis des Schedulers, entscheidet, was fällig ist
    (siehe `modelle.versand`). `schluessel` benennt die Periode, etwa
    `abfrage:energie:2026-11-23T08:00Z`; er ist eindeutig, damit keine Periode zweimal
    bedient wird. Ein eigener Schlüssel statt einer Eindeutigkeit über (Art, Feld, Projekt,
    Termin), weil NULL-Spalten in zusammengesetzten Eindeutigkeiten nie kollidieren.
    """

    __tablename__ = "versand"

    id: Mapped[int] = mapped_column(primary_key=True)
    schluessel: Mapped[str] = mapped_column(String(255), unique=True)
    art: Mapped[Versandart] = mapped_column(String(16))
    themenfeld_id: Mapped[int | None] = mapped_column(ForeignKey("themenfeld.id"), index=True)
    projekt_id: Mapped[int | None] = mapped_column(ForeignKey("strategieprojekt.id"), index=True)
    # Der reguläre Termin der Periode, und wann sie nach Verschieben (Feiertag) fällig war.
    termin: Mapped[dt.datetime] = mapped_column(UTCZeit())
    faellig_am: Mapped[dt.datetime] = mapped_column(UTCZeit())
    status: Mapped[Versandstatus] = mapped_column(String(16))
    # Wann entschieden wurde (die Uhr des Aufrufers); beim Wochenbericht das Ende des Zeitraums.
    erstellt: Mapped[dt.datetime] = mapped_column(UTCZeit(), default=jetzt)
    # Indiziert: Nach jeder gesendeten Nachricht sucht der Zusteller hier ihren Platzhalter.
    event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    raum_id: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        CheckConstraint(f"art IN ({_liste(Versandart)})", name="art_bekannt"),
        CheckConstraint(f"status IN ({_liste(Versandstatus)})", name="status_bekannt"),
        CheckConstraint(
            "CASE art"
            " WHEN 'abfrage' THEN themenfeld_id IS NOT NULL AND projekt_id IS NULL"
            " WHEN 'wochenbericht' THEN themenfeld_id IS NULL AND projekt_id IS NULL"
            " ELSE projekt_id IS NOT NULL END",
            name="bezug_passend",
        ),
    )
