"""Key files in XML of an unknown schema (an OMS-TR-03 key exchange file, a manufacturer's export).

OMS-TR-03 ("XML key exchange") has no public schema, so nothing here assumes one. Every element text
or attribute that holds exactly 16 bytes (32 hex digits, or base64 of 16 bytes) is a key candidate;
when some candidates sit in fields named like a key (``Key``, ``AESKey``, ``DEK`` ...) only those are
used. The meter's identity is looked for next to the key: the key element's other attributes, then its
parent's attributes and the parent's other children, then one level further up. An ID is an 8-digit
value (8 hex characters in a field named like an ID); among several, the field named most like an ID
wins, and disagreeing fields of the same rank make the meter *ambiguous* (reported, not guessed).
Every imported row says in its notes which fields were used.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
import xml.etree.ElementTree as ET

from .model import (
    Collector,
    ImportedKey,
    KeyImport,
    local,
    medium_from_text,
    normalize_manufacturer,
    parse_key_text,
)

SOURCE = "xml"
LEVELS = 3
"""Ancestors searched for the identity: the key's own element, its parent, its grandparent."""

KEY_WORDS = ("key", "dek", "aes", "schluessel", "schlüssel")
MANUFACTURER_NAMES = frozenset(
    ("manufacturer", "manufacturerid", "manufacturercode", "mfr", "mfct", "vendor", "vendorid", "flag")
)
NAME_NAMES = frozenset(("name", "metername", "devicename", "shortname", "description", "label", "location"))
MEDIUM_NAMES = frozenset(
    ("medium", "type", "metertype", "devicetype", "consumptiontype", "consumptiontypename")
)
ID_EXACT = frozenset(
    (
        "id",
        "meterid",
        "deviceid",
        "serial",
        "serialno",
        "serialnumber",
        "wmbusid",
        "radioid",
        "identnumber",
        "identificationnumber",
        "secondaryid",
    )
)
NOT_ID_WORDS = ("date", "time", "year", "version", "config", "type", "crc", "checksum")
"""Fields never taken as the ID, even when they hold 8 digits."""
_DIGITS8 = re.compile(r"^[0-9]{8}$")
_HEX8 = re.compile(r"^[0-9A-Fa-f]{8}$")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9äöü]", "", local(name).lower())


def _id_rank(name: str) -> int:
    """0: named like an ID; 1: contains "serial" or ends in "id"; 2: number/address/meter; 3: other."""
    norm = _norm(name)
    if norm in ID_EXACT:
        return 0
    if "serial" in norm or norm.endswith("id") or "ident" in norm:
        return 1
    if any(word in norm for word in ("number", "nr", "address", "meter")) or norm.endswith("no"):
        return 2
    return 3


def _is_key_name(name: str) -> bool:
    norm = _norm(name)
    return any(word in norm for word in KEY_WORDS) and norm not in MANUFACTURER_NAMES


@dataclass(frozen=True, slots=True)
class _Field:
    label: str
    """Element path (``Meter/SerialNo``) or attribute (``Meter@id``) for the notes."""
    name: str
    value: str
    node: ET.Element


@dataclass(frozen=True, slots=True)
class _Candidate:
    field: _Field
    key: bytes


def _path(node: ET.Element, parents: dict[ET.Element, ET.Element]) -> str:
    parent = parents.get(node)
    return f"{local(parent.tag)}/{local(node.tag)}" if parent is not None else local(node.tag)


def _fields_of(node: ET.Element, parents: dict[ET.Element, ET.Element]) -> list[_Field]:
    """The node's attributes and the texts of its childless children."""
    fields = [
        _Field(f"{local(node.tag)}@{name}", name, value.strip(), node) for name, value in node.attrib.items()
    ]
    for child in node:
        if len(child) == 0 and (child.text or "").strip():
            fields.append(_Field(_path(child, parents), local(child.tag), (child.text or "").strip(), child))
    return fields


def _candidates(root: ET.Element, parents: dict[ET.Element, ET.Element]) -> list[_Candidate]:
    found: list[_Candidate] = []
    for node in root.iter():
        for name, value in node.attrib.items():
            key = parse_key_text(value, base64=True)
            if key is not None:
                found.append(_Candidate(_Field(f"{local(node.tag)}@{name}", name, value, node), key))
        if len(node) == 0:
            key = parse_key_text(node.text, base64=True)
            if key is not None:
                found.append(
                    _Candidate(_Field(_path(node, parents), local(node.tag), node.text or "", node), key)
                )
    return found


def parse(root: ET.Element) -> KeyImport:
    """Meters of an XML document of unknown schema (see the module docstring)."""
    parents = {child: parent for parent in root.iter() for child in parent}
    collector = Collector(SOURCE)
    candidates = _candidates(root, parents)
    named = [c for c in candidates if _is_key_name(c.field.name)]
    if named:
        for other in candidates:
            if other not in named:
                collector.warn("ignored_field", other.field.label, "16 bytes, but not named like a key")
        candidates = named
    key_nodes = {c.field.node for c in candidates}
    for candidate in candidates:
        _identify(collector, candidate, parents, key_nodes)
    return collector.result()


def _identify(
    collector: Collector,
    candidate: _Candidate,
    parents: dict[ET.Element, ET.Element],
    key_nodes: set[ET.Element],
) -> None:
    holder = candidate.field.node
    is_attribute = "@" in candidate.field.label
    scope: ET.Element | None = holder if is_attribute else parents.get(holder)
    fields: list[_Field] = []
    for _ in range(LEVELS):
        if scope is None:
            break
        fields = [
            f
            for f in _fields_of(scope, parents)
            if f.node not in key_nodes
            or (f.node is holder and f.name != candidate.field.name and is_attribute)
        ]
        ids = _id_fields(fields)
        if ids:
            _add(collector, candidate, ids, fields)
            return
        scope = parents.get(scope)
    collector.warn("no_id", candidate.field.label, "no 8-digit meter ID next to this key")


def _id_fields(fields: list[_Field]) -> list[tuple[int, _Field]]:
    found: list[tuple[int, _Field]] = []
    for field in fields:
        if any(word in _norm(field.name) for word in NOT_ID_WORDS):
            continue
        rank = _id_rank(field.name)
        value = "".join(field.value.split())
        if _DIGITS8.match(value) or (rank < 3 and _HEX8.match(value)):
            found.append((rank, field))
    return found


def _add(
    collector: Collector, candidate: _Candidate, ids: list[tuple[int, _Field]], fields: list[_Field]
) -> None:
    best = min(rank for rank, _ in ids)
    chosen = [field for rank, field in ids if rank == best]
    values = {"".join(field.value.split()).upper() for field in chosen}
    if len(values) > 1:
        labels = ", ".join(field.label for field in chosen)
        collector.warn("ambiguous_id", candidate.field.label, f"several fields could be the ID: {labels}")
        return
    id_field = chosen[0]
    notes = [f"key from {candidate.field.label}", f"ID from {id_field.label}"]
    manufacturer = None
    name = None
    medium = None
    for field in fields:
        norm = _norm(field.name)
        if manufacturer is None and norm in MANUFACTURER_NAMES and normalize_manufacturer(field.value):
            manufacturer = normalize_manufacturer(field.value)
            notes.append(f"manufacturer from {field.label}")
        elif name is None and norm in NAME_NAMES:
            name = field.value
            notes.append(f"name from {field.label}")
        elif medium is None and norm in MEDIUM_NAMES and medium_from_text(field.value):
            medium = medium_from_text(field.value)
            notes.append(f"medium from {field.label}")
    collector.add(
        ImportedKey(
            id=values.pop(),
            manufacturer=manufacturer,
            name=name,
            key=candidate.key,
            source=SOURCE,
            medium=medium,
            notes=tuple(notes),
        )
    )
