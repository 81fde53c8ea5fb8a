"""AES keys by meter ID, plus an optional default key."""

from __future__ import annotations

from collections.abc import Mapping


def parse_key(text: str) -> bytes:
    """A 16-byte AES key from 32 hex digits (spaces, ':' and '-' allowed). Raises ValueError."""
    cleaned = "".join(ch for ch in text if ch not in " :-_")
    if len(cleaned) != 32:
        raise ValueError("an AES-128 key is 32 hex digits")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError("an AES-128 key is 32 hex digits") from None


class Keyring:
    """Keys looked up by the meter's 8-digit ID. ``repr`` never shows key material."""

    __slots__ = ("_default", "_keys")

    def __init__(self, keys: Mapping[str, bytes] | None = None, default: bytes | None = None) -> None:
        self._keys: dict[str, bytes] = {k.upper(): bytes(v) for k, v in (keys or {}).items()}
        self._default = default

    def key_for(self, meter_id: str) -> bytes | None:
        """The key for this meter, else the default key, else None."""
        return self._keys.get(meter_id.upper(), self._default)

    def set(self, meter_id: str, key: bytes | None) -> None:
        """Add, replace or (with None) remove one meter's key."""
        if key is None:
            self._keys.pop(meter_id.upper(), None)
        else:
            self._keys[meter_id.upper()] = bytes(key)

    def __contains__(self, meter_id: object) -> bool:
        return isinstance(meter_id, str) and meter_id.upper() in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"Keyring({len(self._keys)} keys, default={'set' if self._default else 'none'})"
