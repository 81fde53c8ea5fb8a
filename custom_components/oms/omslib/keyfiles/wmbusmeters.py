"""wmbusmeters meter files and the meter list of its Home Assistant add-on.

A meter file (``/etc/wmbusmeters.d/<name>``) holds ``key=value`` lines: ``name``, ``driver``, ``id``
and ``key`` (32 hex digits or ``NOKEY``). ``id`` may be a comma-separated list of match expressions:
an exact ID, wildcards (``*``, ``8765*``), exclusions (``!12345678``) and qualifiers after the ID
(``12345678.M=KAM.V=1b.T=16``: manufacturer, version, device type). Exact IDs become meters; wildcard
and exclusion expressions are reported, never expanded. The add-on keeps the same meters as a list in
its options (YAML or JSON): each item either such a ``key=value`` text or a mapping with those keys.
"""

from __future__ import annotations

from collections.abc import Mapping
import importlib
import json
import re
from typing import Any

from ..devices import device_type_name
from .model import (
    Collector,
    ImportedKey,
    KeyImport,
    UnreadableFileError,
    normalize_manufacturer,
)

SOURCE = "wmbusmeters"
NO_KEY = "NOKEY"
_LINE = re.compile(r"^\s*(name|id|key|driver|pollinterval|bus|shell|alarmshell|json_\w+|field_\w+)\s*=", re.M)
_OPTIONS = re.compile(r"^\s*[\"']?meters[\"']?\s*:", re.M)

DRIVER_MEDIUM: dict[str, str] = {
    "multical21": "water",
    "flowiq2200": "water",
    "flowiq3100": "water",
    "kamwater": "water",
    "iperl": "water",
    "izar": "water",
    "apator08": "water",
    "apator162": "water",
    "apatoreitn": "heat_cost_allocator",
    "hydrus": "water",
    "hydrodigit": "water",
    "evo868": "water",
    "mkradio3": "water",
    "mkradio4": "water",
    "mkradio4a": "water",
    "supercom587": "water",
    "q400": "water",
    "qwater": "water",
    "ultrimis": "water",
    "topaseskr": "water",
    "waterstarm": "water",
    "multical302": "heat",
    "multical303": "heat",
    "multical403": "heat",
    "multical603": "heat",
    "multical803": "heat",
    "kamheat": "heat",
    "compact5": "heat",
    "sharky": "heat",
    "sharky774": "heat",
    "qheat": "heat",
    "vario451": "heat",
    "ultraheat": "heat",
    "qcaloric": "heat_cost_allocator",
    "sontex868": "heat_cost_allocator",
    "fhkvdataiii": "heat_cost_allocator",
    "fhkvdataiv": "heat_cost_allocator",
    "amiplus": "electricity",
    "omnipower": "electricity",
    "ebzwmbe": "electricity",
    "esyswm": "electricity",
    "em24": "electricity",
    "gransystems": "electricity",
    "ei6500": "smoke_detector",
    "lansensm": "smoke_detector",
    "lansenth": "room_sensor",
    "rfmamb": "room_sensor",
}
"""wmbusmeters driver name -> medium, for drivers that read one kind of meter only."""


def looks_like_meter_file(text: str) -> bool:
    return any(match.group(1) == "id" for match in _LINE.finditer(text))


def looks_like_options(text: str) -> bool:
    return _OPTIONS.search(text) is not None


def parse_meter_file(text: str) -> KeyImport:
    """Meters of one meter file (several, when a new ``name=`` starts another block)."""
    collector = Collector(SOURCE)
    for fields in _blocks(text):
        _add(collector, fields)
    return collector.result()


def _blocks(text: str) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        name = name.strip().lower()
        if name == "name" and "name" in current:
            blocks.append(current)
            current = {}
        current[name] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def parse_options(obj: Any) -> KeyImport:
    """Meters of the add-on's options: ``{"meters": [...]}`` or the bare list (items: text or mapping)."""
    meters = obj.get("meters") if isinstance(obj, Mapping) else obj
    if not isinstance(meters, list):
        raise UnreadableFileError("no list of meters found")
    collector = Collector(SOURCE)
    for item in meters:
        if isinstance(item, str):
            for fields in _blocks(item):
                _add(collector, fields)
        elif isinstance(item, Mapping):
            _add(collector, {str(k).lower(): "" if v is None else str(v) for k, v in item.items()})
    return collector.result()


def parse_options_text(text: str) -> KeyImport:
    """The add-on's options as JSON (``options.json``) or YAML (the options editor; needs PyYAML)."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return parse_options(json.loads(text))
        except json.JSONDecodeError as err:
            raise UnreadableFileError(f"the JSON cannot be parsed ({err.msg})") from None
    try:
        yaml = importlib.import_module("yaml")  # PyYAML: shipped with Home Assistant, optional here
    except ImportError:
        raise UnreadableFileError("reading YAML needs PyYAML; export the options as JSON instead") from None
    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UnreadableFileError(f"the YAML cannot be parsed ({type(err).__name__})") from None
    return parse_options(obj)


def _medium(driver: str | None, qualifiers: Mapping[str, str]) -> str | None:
    device_type = qualifiers.get("T")
    if device_type:
        try:
            return device_type_name(int(device_type, 16))
        except ValueError:
            pass
    return DRIVER_MEDIUM.get((driver or "").strip().lower())


def _add(collector: Collector, fields: Mapping[str, str]) -> None:
    name = fields.get("name") or None
    expressions = [e.strip() for e in fields.get("id", "").split(",") if e.strip()]
    if not expressions:
        collector.warn("no_id", name or "?", "no id=")
        return
    key_text = fields.get("key", "").strip()
    for expression in expressions:
        ident, *parts = expression.split(".")
        qualifiers = dict(part.partition("=")[::2] for part in parts if "=" in part)
        if ident.startswith("!") or "*" in ident:
            collector.warn(
                "wildcard", expression, "a match expression, not one meter: add those meters by ID"
            )
            continue
        row = collector.meter_row(
            ident,
            key_text,
            subject=expression,
            no_id="not an 8-digit ID",
            no_key="no key (NOKEY): the meter sends unencrypted",
            invalid_key="the key is not 32 hex digits",
            pad=False,
            no_key_words=(NO_KEY,),
        )
        if row is None:
            continue
        meter_id, key, note = row
        notes = [f"driver {fields['driver']}"] if fields.get("driver") else []
        if note:
            notes.append(note)
        collector.add(
            ImportedKey(
                id=meter_id,
                manufacturer=normalize_manufacturer(qualifiers.get("M")),
                name=name,
                key=key,
                source=SOURCE,
                medium=_medium(fields.get("driver"), qualifiers),
                notes=tuple(notes),
            )
        )
