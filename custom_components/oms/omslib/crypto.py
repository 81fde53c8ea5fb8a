"""AES primitives on cached key schedules (no per-telegram key expansion for persistent keys).

One ECB context per key does the block work; CBC and CTR are built on it with integer
XORs (faster than a new ``cryptography`` context per telegram). CMAC (RFC 4493) and GCM
come from ``cryptography`` itself: a pre-keyed CMAC is copied per message.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

# ``cryptography`` is imported on first use: decoding plaintext telegrams (and the CLI's start-up)
# does not pay for loading it.

BLOCK = 16


class Aes:
    """Encrypt/decrypt ECB contexts for one key, and its CMAC context once one is needed."""

    __slots__ = ("_cmac", "_dec", "_enc", "_key")

    def __init__(self, key: bytes) -> None:
        # Contexts are made on first use: a per-telegram key (mode 7 Kenc / Kmac) needs only one of them.
        self._key = key
        self._enc: Any = None
        self._dec: Any = None
        self._cmac: Any = None

    def _ecb(self) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        cipher = Cipher(algorithms.AES(self._key), modes.ECB())  # noqa: S305 - block primitive for CBC/CTR
        self._enc = cipher.encryptor()
        self._dec = cipher.decryptor()

    def keyed_cmac(self) -> Any:
        """A fresh CMAC context for this key (copied from a pre-keyed one: no key set-up per message)."""
        if self._cmac is None:
            from cryptography.hazmat.primitives.ciphers import algorithms
            from cryptography.hazmat.primitives.cmac import CMAC

            self._cmac = CMAC(algorithms.AES(self._key))
        return self._cmac.copy()

    def encrypt_blocks(self, data: bytes) -> bytes:
        if self._enc is None:
            self._ecb()
        out: bytes = self._enc.update(data)
        return out

    def decrypt_blocks(self, data: bytes) -> bytes:
        if self._dec is None:
            self._ecb()
        out: bytes = self._dec.update(data)
        return out


@lru_cache(maxsize=512)
def aes(key: bytes) -> Aes:
    """The cached AES contexts of a persistent key."""
    return Aes(key)


def _xor(a: bytes, b: bytes) -> bytes:
    n = len(a)
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(n, "big")


def cbc_decrypt(ctx: Aes, iv: bytes, data: bytes) -> bytes:
    """AES-CBC decryption without padding; ``len(data)`` is a multiple of 16."""
    if not data:
        return b""
    return _xor(ctx.decrypt_blocks(data), iv + data[:-BLOCK])


def cbc_encrypt(ctx: Aes, iv: bytes, data: bytes) -> bytes:
    """AES-CBC encryption without padding (used for tests and the demo)."""
    out = bytearray()
    prev = iv
    for i in range(0, len(data), BLOCK):
        prev = ctx.encrypt_blocks(_xor(data[i : i + BLOCK], prev))
        out += prev
    return bytes(out)


def ctr_crypt(ctx: Aes, counter: bytes, data: bytes) -> bytes:
    """AES-CTR with a 128-bit big-endian counter starting at ``counter`` (NIST SP 800-38A)."""
    if not data:
        return b""
    start = int.from_bytes(counter, "big")
    blocks = (len(data) + BLOCK - 1) // BLOCK
    mask = (1 << 128) - 1
    stream_in = b"".join(((start + i) & mask).to_bytes(BLOCK, "big") for i in range(blocks))
    stream = ctx.encrypt_blocks(stream_in)
    return _xor(data, stream[: len(data)])


def cmac(ctx: Aes, message: bytes) -> bytes:
    """AES-CMAC (RFC 4493 / NIST SP 800-38B), full 16 bytes."""
    mac = ctx.keyed_cmac()
    mac.update(message)
    out: bytes = mac.finalize()
    return out


GCM_MIN_TAG = 4
"""Shortest GCM tag ``cryptography`` verifies (NIST SP 800-38D allows 4 bytes for special uses)."""


def gcm_decrypt(key: bytes, nonce: bytes, data: bytes, tag: bytes, aad: bytes) -> bytes | None:
    """AES-GCM decryption with a (possibly truncated) tag; None when the tag does not verify.

    A tag shorter than :data:`GCM_MIN_TAG` bytes cannot be verified and is rejected.
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if len(tag) < GCM_MIN_TAG:
        return None
    decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce, tag, min_tag_length=len(tag))).decryptor()
    if aad:
        decryptor.authenticate_additional_data(aad)
    plain: bytes = decryptor.update(data)
    try:
        decryptor.finalize()
    except InvalidTag:
        return None
    return plain


def gcm_encrypt(key: bytes, nonce: bytes, plain: bytes, aad: bytes, tag_len: int) -> tuple[bytes, bytes]:
    """AES-GCM encryption returning (ciphertext, truncated tag)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    full = AESGCM(key).encrypt(nonce, plain, aad or None)
    return full[: len(plain)], full[len(plain) : len(plain) + tag_len]
