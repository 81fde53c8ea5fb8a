"""TPL security modes, EN 13757-7 §9 / OMS Vol2 §9: modes 5, 7 and 9.

Each ``open_*`` function takes the encrypted TPL payload and returns the
plaintext records, or raises a typed error. Mode 7 verifies the AFL MAC
*before* decrypting; a telegram whose MAC fails is never decrypted.
"""

from __future__ import annotations

from .afl import Afl, verify_mac
from .crypto import BLOCK, Aes, aes, cbc_decrypt, cmac, gcm_decrypt
from .errors import LengthError, MacError, MalformedError, NoKeyError, UnsupportedError, WrongKeyError
from .tpl import SECURITY_MODE_NAMES, ConfigField

FILLER = b"\x2f\x2f"
_IV0 = bytes(16)


def mode5_iv(address: bytes, access_number: int) -> bytes:
    """IV = M(2) ID(4) Ver Type ‖ ACC×8 (EN 13757-7 §9.4.3)."""
    return address + bytes((access_number,)) * 8


def _encrypted_length(config: ConfigField, available: int) -> int:
    """Bytes to decrypt: 16*N, or every whole block when N is 0 or more than what arrived."""
    wanted = config.blocks * BLOCK
    if config.blocks and wanted <= available:
        return wanted
    return available - available % BLOCK


def mode5_length(config: ConfigField, available: int) -> int:
    """Bytes under mode-5 encryption: exactly the ``16*N`` blocks the configuration field announces.

    Mode 5 has no MAC, so N is not guessed: N = 0, or more blocks than the frame carries, is an
    error (EN 13757-7 §7.5.8: N counts the encrypted blocks). The decoder first completes a
    frame whose L byte was cut by its stick (OMS.md §7) from the bytes after L.
    """
    blocks = config.blocks
    if not blocks:
        raise MalformedError("mode 5 telegram whose configuration field announces no encrypted block")
    n = blocks * BLOCK
    if n > available:
        raise LengthError(
            f"configuration field announces {blocks} encrypted blocks, the frame carries {available} bytes"
        )
    return n


def open_mode5(payload: bytes, config: ConfigField, iv: bytes, key: bytes | None) -> tuple[bytes, bool]:
    """AES-128-CBC with the header IV; bytes after ``16*N`` stay plain (partial encryption).

    Returns (plaintext, decrypted). A payload already starting with 2F2F and no
    key, or failing 2F2F after decryption while plain before, is taken as plain.
    """
    stored_plain = payload[:2] == FILLER  # stored already decrypted (captures, corpora)
    if key is None:
        if stored_plain:
            return payload, False
        raise NoKeyError("telegram is encrypted (mode 5) and no key is known for this meter")
    try:
        n = mode5_length(config, len(payload))
    except (LengthError, MalformedError):
        if stored_plain:
            return payload, False
        raise
    plain = cbc_decrypt(aes(key), iv, payload[:n])
    if plain[:2] == FILLER:
        return plain + payload[n:], True
    if stored_plain:
        return payload, False
    raise WrongKeyError("decrypted mode 5 payload does not start with 2F2F: wrong key")


def kdf_a(key: bytes, constant: int, counter: int, id_bytes: bytes) -> bytes:
    """OMS KDF-A: CMAC(K, D ‖ C(4 LE) ‖ ID(4) ‖ 07×7) (OMS Vol2 §9.6.1)."""
    message = bytes((constant,)) + counter.to_bytes(4, "little") + id_bytes + b"\x07" * 7
    return cmac(aes(key), message)


def open_mode7(
    payload: bytes,
    config: ConfigField,
    afl: Afl | None,
    tpdu: bytes,
    id_bytes: bytes,
    key: bytes | None,
) -> bytes:
    """Verify the AFL CMAC with Kmac, then AES-128-CBC decrypt with Kenc and IV 0.

    Without a key, a payload that already starts with 2F2F is returned as is (the
    caller marks it unauthenticated); with a key the MAC must verify.
    """
    if key is None:
        if payload[:2] == FILLER:
            # Stored already decrypted (captures, corpora). Never authenticated: with a key
            # configured for the meter the MAC below is mandatory.
            return payload
        raise NoKeyError("telegram is encrypted (mode 7) and no key is known for this meter")
    if afl is None or not afl.mac:
        raise MacError("mode 7 telegram carries no AFL MAC: rejected")
    if config.kdf not in (0, 1):
        raise UnsupportedError(f"mode 7 key derivation {config.kdf} is not supported")
    counter = config.counter if config.counter is not None else afl.counter
    if counter is None:
        raise MalformedError("mode 7 telegram without a message counter (no TPL counter, no AFL MCR)")
    kenc, kmac = (kdf_a(key, 0x00, counter, id_bytes), kdf_a(key, 0x01, counter, id_bytes))
    if not verify_mac(afl, _fresh(kmac), tpdu):
        raise MacError("AFL MAC does not verify: wrong key or forged telegram, rejected")
    n = _encrypted_length(config, len(payload))
    plain = cbc_decrypt(_fresh(kenc), _IV0, payload[:n])
    if plain[:2] != FILLER:
        raise MalformedError("mode 7 plaintext does not start with 2F2F although the MAC verified")
    return plain + payload[n:]


def _fresh(key: bytes) -> Aes:
    """Contexts for a per-telegram key; not cached, they are used once."""
    return Aes(key)


def mode9_nonce(address: bytes, counter: int) -> bytes:
    """Nonce = M(2) ID(4) Ver Type ‖ MCR(4) (CEN/TR 17167 F.5, second-hand summary)."""
    return address + counter.to_bytes(4, "little")


def open_mode9(payload: bytes, afl: Afl | None, address: bytes, aad: bytes, key: bytes | None) -> bytes:
    """AES-128-GCM; the tag is the AFL MAC (AT 8/9), the counter the AFL MCR.

    No public vector exists for this mode; the layout follows the specification
    summary and is proven only by the project's own round trips.
    """
    if afl is None or not afl.mac or afl.counter is None:
        raise MacError("mode 9 telegram carries no AFL tag and counter: rejected")
    if key is None:
        raise NoKeyError("telegram is encrypted (mode 9) and no key is known for this meter")
    plain = gcm_decrypt(key, mode9_nonce(address, afl.counter), payload, afl.mac, aad)
    if plain is None:
        raise MacError("AES-GCM tag does not verify: wrong key or forged telegram, rejected")
    return plain


def unsupported_mode(mode: int) -> UnsupportedError:
    """The error for a security mode this decoder does not implement."""
    name = SECURITY_MODE_NAMES.get(mode, "reserved")
    return UnsupportedError(f"security mode {mode} ({name}) is not supported")
