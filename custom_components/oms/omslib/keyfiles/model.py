"""Results, errors and shared helpers of the key-file importers.

Every importer turns a file into :class:`ImportedKey` rows plus :class:`KeyWarning`
rows; nothing here ever puts key material into a ``repr``, message or warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
import re
from typing import ClassVar
import xml.etree.ElementTree as ET

SOURCES = ("kem", "kem2", "wmbusmeters", "list", "xml")
"""Values of :attr:`ImportedKey.source`."""


@dataclass(frozen=True, slots=True)
class ImportedKey:
    """One meter found in a key file. ``repr`` never shows the key."""

    id: str
    """The 8-character meter ID of the link layer (EN 13757-4 §5.4, A-field), upper case."""
    manufacturer: str | None
    name: str | None
    key: bytes = field(repr=False)
    source: str
    medium: str | None = None
    """A device-type name of :mod:`..devices` (``water``, ``heat`` ...) when the file says so."""
    notes: tuple[str, ...] = ()
    """Which fields were used and what was changed (e.g. an ID padded to 8 digits)."""


@dataclass(frozen=True, slots=True)
class KeyWarning:
    """Something in the file that was not imported or is doubtful; ``subject`` names the meter or line."""

    kind: str
    """``wildcard``, ``duplicate``, ``conflict``, ``no_key``, ``invalid_key``, ``no_id``, ``ambiguous_id``,
    ``ignored_field``."""
    subject: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True, slots=True)
class KeyImport:
    """What one file held: the meters (unique IDs, file order), the warnings, the detected format."""

    keys: tuple[ImportedKey, ...]
    source: str
    warnings: tuple[KeyWarning, ...] = ()

    def warnings_of(self, kind: str) -> list[KeyWarning]:
        return [w for w in self.warnings if w.kind == kind]


class KeyFileError(Exception):
    """Base class of the import errors; ``code`` is stable (CLI, Home Assistant translation keys)."""

    code: ClassVar[str] = "key_file"

    def __init__(self, message: str, *, warnings: Iterable[KeyWarning] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.warnings = tuple(warnings)


class PasswordRequiredError(KeyFileError):
    """The file is encrypted (KEM) and no password was given."""

    code = "password_required"


class WrongPasswordError(KeyFileError):
    """The file could not be decrypted with this password."""

    code = "wrong_password"


class NoKeysError(KeyFileError):
    """The file was read, but holds no meter with an exact ID and a key."""

    code = "no_keys"


class UnreadableFileError(KeyFileError):
    """The file is not in a format this importer reads (or is damaged, or too large)."""

    code = "unreadable"


class Collector:
    """Gathers the rows of one file: the first row per ID wins, repeats are warnings."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._keys: dict[str, ImportedKey] = {}
        self.warnings: list[KeyWarning] = []

    def add(self, item: ImportedKey) -> None:
        first = self._keys.get(item.id)
        if first is None:
            self._keys[item.id] = item
        elif first.key == item.key:
            self.warn("duplicate", item.id, "listed more than once with the same key")
        else:
            self.warn("conflict", item.id, "listed more than once with different keys; the first is used")

    def meter_row(
        self,
        id_text: str | None,
        key_text: str | None,
        *,
        subject: str,
        no_id: str,
        no_key: str,
        invalid_key: str,
        pad: bool = True,
        no_key_words: tuple[str, ...] = (),
    ) -> tuple[str, bytes, str | None] | None:
        """(meter ID, key, ID note) of one file row, or None after a ``no_id``/``no_key``/``invalid_key``
        warning. ``subject`` names the row when it has no ID; ``no_id``, ``no_key`` and ``invalid_key``
        are the format's details; ``no_key_words`` are key texts meaning "no key" (upper case)."""
        meter_id, id_note = normalize_id(id_text, pad=pad)
        if meter_id is None:
            self.warn("no_id", subject, no_id)
            return None
        if not key_text or key_text.upper() in no_key_words:
            self.warn("no_key", meter_id, no_key)
            return None
        key = parse_key_text(key_text)
        if key is None:
            self.warn("invalid_key", meter_id, invalid_key)
            return None
        return meter_id, key, id_note

    def warn(self, kind: str, subject: str, detail: str = "") -> None:
        self.warnings.append(KeyWarning(kind, subject, detail))

    def extend(self, other: KeyImport) -> None:
        for item in other.keys:
            self.add(item)
        self.warnings.extend(other.warnings)

    def result(self) -> KeyImport:
        """The import, or :class:`NoKeysError` when nothing importable was found."""
        if not self._keys:
            raise NoKeysError("the file holds no meter with an ID and a key", warnings=self.warnings)
        return KeyImport(tuple(self._keys.values()), self.source, tuple(self.warnings))


# --------------------------------------------------------------------------- values

_ID = re.compile(r"^[0-9A-F]{8}$")
_DIGITS = re.compile(r"^[0-9]{1,7}$")
_MANUFACTURER = re.compile(r"^[A-Za-z]{3}$")
_HEX32 = re.compile(r"^[0-9A-Fa-f]{32}$")
_KEY_SEPARATED = re.compile(r"^[0-9A-Fa-f]{2}(?P<sep>[ :\-])[0-9A-Fa-f]{2}(?:(?P=sep)[0-9A-Fa-f]{2}){14}$")
_B64_16 = re.compile(r"^[A-Za-z0-9+/]{22}==$")


def normalize_id(text: str | None, *, pad: bool = True) -> tuple[str | None, str | None]:
    """(8-character meter ID or None, note): spaces removed, upper case; 1-7 digits padded with zeros."""
    if text is None:
        return None, None
    value = "".join(text.split()).upper()
    if _ID.match(value):
        return value, None
    if pad and _DIGITS.match(value):
        return value.zfill(8), f"ID {value} padded to 8 digits"
    return None, None


def normalize_manufacturer(text: str | None) -> str | None:
    """The 3-letter manufacturer code (EN 13757-7 §7.5.2, FLAG association), or None."""
    value = (text or "").strip()
    return value.upper() if _MANUFACTURER.match(value) else None


def parse_key_text(text: str | None, *, base64: bool = False) -> bytes | None:
    """16 key bytes from 32 hex digits (one separator - space, ':' or '-' - between every byte allowed),
    or with ``base64`` from the base64 form of 16 bytes; else None."""
    value = (text or "").strip()
    if _HEX32.match(value):
        return bytes.fromhex(value)
    if _KEY_SEPARATED.match(value):
        return bytes.fromhex(re.sub(r"[ :\-]", "", value))
    if base64 and _B64_16.match(value):
        import base64 as b64

        return b64.b64decode(value, validate=True)
    return None


MEDIUM_WORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("heat", "cool"), "heat_cooling_load"),
    (("cool",), "cooling_load_outlet"),
    (("hot", "water"), "hot_water"),
    (("warm", "water"), "warm_water"),
    (("cold", "water"), "cold_water"),
    (("heatcost",), "heat_cost_allocator"),
    (("heat", "cost"), "heat_cost_allocator"),
    (("allocator",), "heat_cost_allocator"),
    (("water",), "water"),
    (("heat",), "heat"),
    (("electric",), "electricity"),
    (("gas",), "gas"),
    (("smoke",), "smoke_detector"),
)
"""Words in a consumption-type text -> device-type name (EN 13757-7 Table 12 names, as in ``devices``).
The first row whose words all occur wins."""


def medium_from_text(text: str | None) -> str | None:
    """The medium a free-text consumption type names ("ColdWater", "Heat", "Electricity"), or None."""
    value = (text or "").lower().replace(" ", "").replace("_", "")
    if not value:
        return None
    for words, medium in MEDIUM_WORDS:
        if all(word in value for word in words):
            return medium
    return None


# --------------------------------------------------------------------------- XML

MAX_XML_CHARS = 20_000_000


def parse_xml(text: str) -> ET.Element:
    """Parse XML from a key file; DTDs (and with them entity expansion) are refused."""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise UnreadableFileError("XML with a document type declaration is not read")
    if len(text) > MAX_XML_CHARS:
        raise UnreadableFileError("the XML file is too large")
    try:
        return ET.fromstring(text)  # noqa: S314 - no DTD (checked above), so no entity expansion
    except ET.ParseError as err:
        raise UnreadableFileError(f"the XML cannot be parsed ({err})") from None


def local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rpartition("}")[2]


def children(element: ET.Element, name: str) -> Iterator[ET.Element]:
    """Direct children with this local name."""
    return (child for child in element if local(child.tag) == name)


def child_text(element: ET.Element, name: str) -> str | None:
    """Stripped text of the first direct child with this local name (None when absent or empty)."""
    for child in children(element, name):
        text = (child.text or "").strip()
        return text or None
    return None


def descendants(element: ET.Element, name: str) -> Iterator[ET.Element]:
    return (node for node in element.iter() if local(node.tag) == name)
