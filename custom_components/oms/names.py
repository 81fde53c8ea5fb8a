"""Words the frontend shows as given, translated on this side: qualifiers in entity names, medium
names, and the labels of heard and found meters in the flows.

Entity names come from ``translation_key`` + ``translation_placeholders`` and placeholders are
inserted untranslated; labels of select options built at run time cannot be translated by the
frontend either. Both use the words in ``strings.json`` under ``selector`` (``record_detail``,
``medium``, ``meter_label``), in Home Assistant's language, as Home Assistant does for entity names.
"""

from __future__ import annotations

from collections.abc import Mapping

from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations

from .const import DOMAIN
from .omslib.record import Record

PREFIX = f"component.{DOMAIN}.selector."
DETAIL = "record_detail"
MEDIUM = "medium"
LABEL = "meter_label"

ENGLISH: dict[str, dict[str, str]] = {
    DETAIL: {
        "maximum": "maximum",
        "minimum": "minimum",
        "error": "value during error",
        "billing_date": "at billing date",
        "storage": "stored value {n}",
        "tariff": "tariff {n}",
        "subunit": "register {n}",
    },
    LABEL: {
        "seconds_ago": "{n} s ago",
        "minutes_ago": "{n} min ago",
        "encrypted": "encrypted",
        "primary": "primary",
        "secondary": "secondary",
        "unreadable": "cannot be read",
        "receiver_on": "{model} on {port}",
        "replay_of": "Replay of {name}",
    },
}
"""Fallback when a word has no translation (strings.json holds the same English words)."""


class Words:
    """Translated words of one language; unknown words read as their key with spaces."""

    def __init__(self, strings: Mapping[str, str] | None = None) -> None:
        self._strings = dict(strings or {})

    def word(self, group: str, key: str, **values: object) -> str:
        text = self._strings.get(f"{PREFIX}{group}.options.{key}") or ENGLISH.get(group, {}).get(key)
        if text is None:
            text = key.replace("_", " ")
        for name, value in values.items():
            text = text.replace(f"{{{name}}}", str(value))
        return text

    def medium(self, medium: str | None) -> str | None:
        """``"heat_cost_allocator"`` → "heat cost allocator" / "Heizkostenverteiler"."""
        return None if medium is None else self.word(MEDIUM, medium)

    def label(self, key: str, **values: object) -> str:
        return self.word(LABEL, key, **values)

    def record_detail(self, record: Record) -> str:
        """What tells a record from its quantity's main reading, as a suffix of the entity name.

        ", maximum", " at billing date" (storage 1, EN 13757-3 §6.3.2), ", tariff 2, register 1",
        ", stored value 3"; empty for the main reading.
        """
        parts: list[str] = []
        if record.function != "instantaneous":
            parts.append(self.word(DETAIL, record.function))
        parts.extend(self.word(DETAIL, modifier) for modifier in record.modifiers)
        if record.tariff:
            parts.append(self.word(DETAIL, "tariff", n=record.tariff))
        if record.subunit:
            parts.append(self.word(DETAIL, "subunit", n=record.subunit))
        suffix = ", " + ", ".join(parts) if parts else ""
        if record.storage == 1:
            suffix += " " + self.word(DETAIL, "billing_date")
        elif record.storage:
            suffix += ", " + self.word(DETAIL, "storage", n=record.storage)
        return suffix


async def async_get_words(hass: HomeAssistant, language: str | None = None) -> Words:
    """The words in Home Assistant's language (``language`` to choose another)."""
    strings = await async_get_translations(hass, language or hass.config.language, "selector", {DOMAIN})
    return Words(strings)
