"""Typed decoder errors.

Every failure of :func:`omslib.decode` is one of these. ``code`` is a stable
machine-readable string (used by ``scripts/decode`` and the integration's
repair issues). ``header`` carries whatever identity decoded before the
failure, so callers can still say *which* meter sent a telegram they could not
read. Messages never contain key material.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from .telegram import Header


class OmsError(Exception):
    """Base class of every decoding error."""

    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, header: Header | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.header = header

    def with_header(self, header: Header) -> OmsError:
        """Attach the decoded header if none is set yet; returns self."""
        if self.header is None:
            self.header = header
        return self


class CrcError(OmsError):
    """A block CRC, payload CRC or wired checksum does not match."""

    code = "crc"


class LengthError(OmsError):
    """The bytes are shorter (or longer) than a length field says."""

    code = "length"


class MalformedError(OmsError):
    """A field holds a value the standard does not allow here."""

    code = "malformed"


class NoKeyError(OmsError):
    """The telegram is encrypted and no key is known for this meter."""

    code = "no_key"


class WrongKeyError(OmsError):
    """Decryption produced no valid plaintext (2F2F or payload CRC check failed)."""

    code = "wrong_key"


class IntegrityError(OmsError):
    """Decrypted data that is not a consistent application layer (mode 5 has no MAC).

    The key opened the payload (its 2F2F check bytes are there), but a record inside the
    encrypted blocks is cut or reserved, or something other than 2F fill follows the last
    record: the telegram was damaged or tampered with. Not a wrong-key error.
    """

    code = "integrity"


class MacError(OmsError):
    """The AFL message authentication code does not verify: the telegram is rejected."""

    code = "mac"


class UnsupportedError(OmsError):
    """A valid feature this decoder does not implement (security mode, CI, ELL 86)."""

    code = "unsupported"


class UnknownFormatError(OmsError):
    """A compact frame whose format signature has not been learnt from a full frame yet."""

    code = "unknown_format"


class IncompleteError(OmsError):
    """An AFL fragment was stored; the message decodes when its last fragment arrives."""

    code = "incomplete"


DECRYPTION_ERRORS: tuple[type[OmsError], ...] = (NoKeyError, WrongKeyError, MacError)
"""Errors that say the key is missing or wrong (or a MAC failed). :class:`IntegrityError` is not
one: the key worked and the decrypted telegram was damaged or tampered with."""
