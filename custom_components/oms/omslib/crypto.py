"""AES primitives on cached key schedules (no per-telegram key expansion for persistent keys).

One ECB context per key does the block work; CBC, CTR and CMAC (RFC 4493) are
built on it with integer XORs. The ``cryptography`` package provides AES.
"""

from __future__ import annotations

from functools import lru_cache
import hmac
from typing import Any

# ``cryptography`` is imported on first use: decoding plaintext telegrams (and the CLI's start-up)
# does not pay for loading it.

BLOCK = 16
_ZERO = bytes(BLOCK)


class Aes:
    """Encrypt/decrypt ECB contexts for one key, plus its CMAC subkeys."""

    __slots__ = ("_dec", "_enc", "k1", "k2")

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        cipher = Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305 - block primitive for CBC/CTR/CMAC
        self._enc: Any = cipher.encryptor()
        self._dec: Any = cipher.decryptor()
        self.k1, self.k2 = _subkeys(self._enc.update(_ZERO))

    def encrypt_blocks(self, data: bytes) -> bytes:
        out: bytes = self._enc.update(data)
        return out

    def decrypt_blocks(self, data: bytes) -> bytes:
        out: bytes = self._dec.update(data)
        return out


def _subkeys(l_block: bytes) -> tuple[int, int]:
    mask = (1 << 128) - 1
    value = int.from_bytes(l_block, "big")
    k1 = ((value << 1) & mask) ^ (0x87 if value >> 127 else 0)
    k2 = ((k1 << 1) & mask) ^ (0x87 if k1 >> 127 else 0)
    return k1, k2


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
    n = len(message)
    if n and n % BLOCK == 0:
        last = int.from_bytes(message[-BLOCK:], "big") ^ ctx.k1
        body = message[:-BLOCK]
    else:
        tail = message[n - n % BLOCK :] + b"\x80"
        tail += bytes(BLOCK - len(tail))
        last = int.from_bytes(tail, "big") ^ ctx.k2
        body = message[: n - n % BLOCK]
    state = 0
    for i in range(0, len(body), BLOCK):
        block = (state ^ int.from_bytes(body[i : i + BLOCK], "big")).to_bytes(BLOCK, "big")
        state = int.from_bytes(ctx.encrypt_blocks(block), "big")
    return ctx.encrypt_blocks((state ^ last).to_bytes(BLOCK, "big"))


def gcm_decrypt(key: bytes, nonce: bytes, data: bytes, tag: bytes, aad: bytes) -> bytes | None:
    """AES-GCM decryption with a truncated tag; None when the tag does not verify.

    ``cryptography``'s AEAD API wants a full 16-byte tag, so truncated tags are
    checked by re-encrypting: GCM's keystream is CTR from counter block 2.
    """
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    ctx = aes(key)
    plain = ctr_crypt(ctx, nonce + b"\x00\x00\x00\x02", data)
    full = AESGCM(key).encrypt(nonce, plain, aad or None)
    if not hmac.compare_digest(full[len(plain) : len(plain) + len(tag)], tag):
        return None
    return plain


def gcm_encrypt(key: bytes, nonce: bytes, plain: bytes, aad: bytes, tag_len: int) -> tuple[bytes, bytes]:
    """AES-GCM encryption returning (ciphertext, truncated tag)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    full = AESGCM(key).encrypt(nonce, plain, aad or None)
    return full[: len(plain)], full[len(plain) : len(plain) + tag_len]
