"""Form fields that the receiver, meter, wired and key-import flows share (Home Assistant selectors)."""

from __future__ import annotations

from collections.abc import Sequence

from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import voluptuous as vol

from .const import CONF_NAME


def pick_or_type(options: Sequence[SelectOptionDict]) -> SelectSelector:
    """A drop-down of ``options`` that also takes a typed value (a port, a meter ID, a DevEUI)."""
    return SelectSelector(
        SelectSelectorConfig(options=list(options), custom_value=True, mode=SelectSelectorMode.DROPDOWN)
    )


def secret() -> TextSelector:
    """A text field typed like a password: an AES key, a key file's password."""
    return TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))


def name_and_key(default_name: str, key: vol.Marker | None) -> vol.Schema:
    """A new meter's name (``default_name`` unless changed) and its AES key field ``key``.

    ``key`` is ``vol.Required(CONF_KEY)`` or ``vol.Optional(CONF_KEY)``; None leaves the field out
    (a meter heard sending plaintext needs no key).
    """
    fields: dict[vol.Marker, object] = {vol.Optional(CONF_NAME, default=default_name): TextSelector()}
    if key is not None:
        fields[key] = secret()
    return vol.Schema(fields)
