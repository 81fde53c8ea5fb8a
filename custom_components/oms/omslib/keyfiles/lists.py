"""Plain key lists from metering portals and spreadsheets.

Two shapes: lines ``MFR;meter number;key`` (manufacturer and number optional; ``;``, ``,``, tab or
spaces between the fields), or CSV whose header names the ID and key columns. A key is 32 hex digits,
or 16 hex pairs with the same separator (space, ``:`` or ``-``) between every pair.
"""

from __future__ import annotations

import csv
import re

from .model import (
    Collector,
    ImportedKey,
    KeyImport,
    medium_from_text,
    normalize_id,
    normalize_manufacturer,
    parse_key_text,
)

SOURCE = "list"
_DELIMITERS = re.compile(r"[;,\t]")
_PAIR = re.compile(r"^[0-9A-Fa-f]{2}$")


def find_key(line: str) -> tuple[bytes, list[str]] | None:
    """(key, the other fields) of a list line, or None when it holds no key.

    With ``;``, ``,`` or tabs the key is a whole field; else the fields are separated by spaces and the
    key is one word (32 hex digits, or pairs joined by ':' or '-') or a run of exactly 16 two-digit words.
    """
    if _DELIMITERS.search(line):
        cells = [cell.strip() for cell in _DELIMITERS.split(line)]
        for index, cell in enumerate(cells):
            key = parse_key_text(cell)
            if key is not None:
                return key, [c for i, c in enumerate(cells) if i != index and c]
        return None
    words = line.split()
    for index, word in enumerate(words):
        key = parse_key_text(word)
        if key is not None:
            return key, words[:index] + words[index + 1 :]
    start = 0
    while start < len(words):
        end = start
        while end < len(words) and _PAIR.match(words[end]):
            end += 1
        if end - start == 16:
            return bytes.fromhex("".join(words[start:end])), words[:start] + words[end:]
        start = end + 1
    return None


COLUMNS: dict[str, tuple[str, ...]] = {
    "id": (
        "id",
        "meterid",
        "meter_id",
        "deviceid",
        "serial",
        "serialno",
        "serialnumber",
        "serial_number",
        "meternumber",
        "meter_number",
        "meterno",
        "number",
        "wmbusid",
        "radioid",
        "zählernummer",
        "zaehlernummer",
    ),
    "key": ("key", "aeskey", "aes_key", "aes", "dek", "encryptionkey", "encryption_key", "schlüssel"),
    "manufacturer": ("manufacturer", "mfr", "mfct", "vendor", "vendorid", "hersteller", "flag"),
    "name": ("name", "description", "label", "location", "bezeichnung"),
    "medium": ("medium", "type", "consumptiontype", "metertype", "medium_type"),
}
"""Header names (lower case, spaces removed) of the columns a CSV list may have."""


def _column(header: str) -> str | None:
    name = "".join(header.lower().split())
    for column, names in COLUMNS.items():
        if name in names:
            return column
    return None


def _delimiter(line: str) -> str | None:
    counts = {sep: line.count(sep) for sep in (";", "\t", ",")}
    sep, count = max(counts.items(), key=lambda item: item[1])
    return sep if count else None


def _lines(text: str) -> list[tuple[int, str]]:
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith(("#", "//"))
    ]


def parse(text: str) -> KeyImport:
    """Meters of a list; a first line without a key naming ID and key columns is a CSV header."""
    lines = _lines(text)
    collector = Collector(SOURCE)
    if lines and find_key(lines[0][1]) is None:
        delimiter = _delimiter(lines[0][1])
        header = next(csv.reader([lines[0][1]], delimiter=delimiter or ","))
        columns = [_column(cell) for cell in header]
        if "id" in columns and "key" in columns:
            _parse_csv(collector, lines[1:], columns, delimiter or ",")
            return collector.result()
        lines = lines[1:]  # a title line
    for number, line in lines:
        _parse_line(collector, number, line)
    return collector.result()


def _parse_csv(
    collector: Collector, lines: list[tuple[int, str]], columns: list[str | None], delimiter: str
) -> None:
    for number, line in lines:
        cells = next(csv.reader([line], delimiter=delimiter))
        row = {column: cell.strip() for column, cell in zip(columns, cells, strict=False) if column}
        found = collector.meter_row(
            row.get("id"),
            row.get("key"),
            subject=row.get("id") or f"line {number}",
            no_id=f"line {number}: no 8-digit ID",
            no_key=f"line {number}",
            invalid_key=f"line {number}: not 32 hex digits",
        )
        if found is None:
            continue
        meter_id, key, note = found
        collector.add(
            ImportedKey(
                id=meter_id,
                manufacturer=normalize_manufacturer(row.get("manufacturer")),
                name=row.get("name") or None,
                key=key,
                source=SOURCE,
                medium=medium_from_text(row.get("medium")),
                notes=(note,) if note else (),
            )
        )


def _parse_line(collector: Collector, number: int, line: str) -> None:
    found = find_key(line)
    if found is None:
        collector.warn("no_key", f"line {number}", "no 32-hex-digit key")
        return
    key, cells = found
    manufacturer = next((m for m in map(normalize_manufacturer, cells) if m), None)
    ids = {meter_id: note for meter_id, note in map(normalize_id, cells) if meter_id is not None}
    if not ids:
        collector.warn("no_id", f"line {number}", "a key without an 8-digit meter number")
        return
    if len(ids) > 1:
        collector.warn("ambiguous_id", f"line {number}", "more than one number that could be the ID")
        return
    ((meter_id, note),) = ids.items()
    others = [c for c in cells if normalize_id(c)[0] is None and c.upper() != manufacturer]
    collector.add(
        ImportedKey(
            id=meter_id,
            manufacturer=manufacturer,
            name=" ".join(others) or None,
            key=key,
            source=SOURCE,
            notes=(note,) if note else (),
        )
    )
