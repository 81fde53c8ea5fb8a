"""Meter keys in bulk: read the key files users receive and return typed rows.

``import_keys(data, password=...)`` detects the format and returns a :class:`KeyImport`:

* ``kem`` / ``kem2``: Kamstrup KEM files, encrypted or not, also inside a zip (:mod:`.kem`);
* ``wmbusmeters``: meter files and the add-on's meter list, YAML or JSON (:mod:`.wmbusmeters`);
* ``list``: ``MFR;number;key`` lines and CSV with a header (:mod:`.lists`);
* ``xml``: XML of any other schema, e.g. OMS-TR-03 key exchange files (:mod:`.xml_generic`).

Errors are :class:`KeyFileError` subclasses with a stable ``code``. YAML needs PyYAML (imported
only when a YAML file is read; Home Assistant ships it). No key ever appears in a message.
"""

from __future__ import annotations

from . import kem, lists, wmbusmeters, xml_generic
from .model import (
    SOURCES,
    Collector,
    ImportedKey,
    KeyFileError,
    KeyImport,
    KeyWarning,
    NoKeysError,
    PasswordRequiredError,
    UnreadableFileError,
    WrongPasswordError,
    parse_xml,
)

__all__ = [
    "MAX_FILE_BYTES",
    "SOURCES",
    "ImportedKey",
    "KeyFileError",
    "KeyImport",
    "KeyWarning",
    "NoKeysError",
    "PasswordRequiredError",
    "UnreadableFileError",
    "WrongPasswordError",
    "import_keys",
    "import_text",
]

MAX_FILE_BYTES = 5_000_000


def import_keys(data: bytes, *, password: str | None = None) -> KeyImport:
    """The meters and keys in a key file of any supported format (see the package docstring)."""
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFileError("the file is too large for a key file")
    if data.startswith(kem.ZIP_MAGIC):
        return _import_zip(data, password)
    return import_text(_decode(data), password=password)


def import_text(text: str, *, password: str | None = None) -> KeyImport:
    """Like :func:`import_keys` for text (e.g. pasted into a form)."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise NoKeysError("the file is empty")
    if stripped.startswith("<"):
        return _import_xml(stripped, password)
    if stripped.startswith(("{", "[")) or wmbusmeters.looks_like_options(stripped):
        return wmbusmeters.parse_options_text(stripped)
    if wmbusmeters.looks_like_meter_file(stripped):
        return wmbusmeters.parse_meter_file(stripped)
    return lists.parse(stripped)


def _import_xml(text: str, password: str | None) -> KeyImport:
    root = parse_xml(text)
    notes: list[str] = []
    if kem.is_encrypted(root):
        root, notes = kem.decrypt(root, password)
    if kem.is_plain_kem(root):
        return kem.parse(root, notes)
    return xml_generic.parse(root)


def _import_zip(data: bytes, password: str | None) -> KeyImport:
    """Every file in the zip (normally one ``.kem``/``.kem2``); files without keys are skipped."""
    sources: list[str] = []
    collector: Collector | None = None
    last_error: KeyFileError | None = None
    for name, member in kem.unzip(data):
        try:
            found = import_keys(member, password=password) if not member.startswith(kem.ZIP_MAGIC) else None
        except (NoKeysError, UnreadableFileError) as err:
            last_error = err
            continue
        if found is None:
            last_error = UnreadableFileError(f"{name}: a zip inside the zip is not read")
            continue
        sources.append(found.source)
        if collector is None:
            collector = Collector(found.source)
        collector.extend(found)
    if collector is None:
        raise last_error or NoKeysError("the zip file is empty")
    if len(set(sources)) > 1:
        collector.source = "mixed"
    return collector.result()


def _decode(data: bytes) -> str:
    """Text of a key file: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")
