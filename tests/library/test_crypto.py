"""AES primitives against public known answers (RFC 4493, NIST SP 800-38A) and OMS KDF-A."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
import pytest

from custom_components.oms.omslib.crypto import (
    aes,
    cbc_decrypt,
    cbc_encrypt,
    cmac,
    ctr_crypt,
    gcm_decrypt,
    gcm_encrypt,
)
from custom_components.oms.omslib.security import kdf_a

RFC4493_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
RFC4493_MSG = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)


@pytest.mark.parametrize(
    ("length", "tag"),
    [
        (0, "bb1d6929e95937287fa37d129b756746"),
        (16, "070a16b46b4d4144f79bdd9dd04a287c"),
        (40, "dfa66747de9ae63030ca32611497c827"),
        (64, "51f0bebf7e3b9d92fc49741779363cfe"),
    ],
)
def test_cmac_rfc4493(length: int, tag: str) -> None:
    assert cmac(aes(RFC4493_KEY), RFC4493_MSG[:length]).hex() == tag


def test_cbc_matches_reference_and_round_trips() -> None:
    iv = bytes(range(16))
    data = RFC4493_MSG
    reference = Cipher(algorithms.AES(RFC4493_KEY), modes.CBC(iv)).encryptor().update(data)
    assert cbc_encrypt(aes(RFC4493_KEY), iv, data) == reference
    assert cbc_decrypt(aes(RFC4493_KEY), iv, reference) == data
    assert cbc_decrypt(aes(RFC4493_KEY), iv, b"") == b""


def test_ctr_matches_reference_including_counter_wrap() -> None:
    counter = b"\xff" * 15 + b"\xfe"
    data = RFC4493_MSG[:37]
    reference = Cipher(algorithms.AES(RFC4493_KEY), modes.CTR(counter)).encryptor().update(data)
    assert ctr_crypt(aes(RFC4493_KEY), counter, data) == reference
    assert ctr_crypt(aes(RFC4493_KEY), counter, b"") == b""


def test_gcm_truncated_tag_round_trip_and_rejection() -> None:
    nonce = bytes(12)
    cipher, tag = gcm_encrypt(RFC4493_KEY, nonce, b"plain records", b"aad", 12)
    assert gcm_decrypt(RFC4493_KEY, nonce, cipher, tag, b"aad") == b"plain records"
    assert gcm_decrypt(RFC4493_KEY, nonce, cipher, tag, b"other aad") is None
    forged = bytes([cipher[0] ^ 1]) + cipher[1:]
    assert gcm_decrypt(RFC4493_KEY, nonce, forged, tag, b"aad") is None
    assert gcm_decrypt(RFC4493_KEY, nonce, cipher, tag[:4], b"aad") == b"plain records"
    assert gcm_decrypt(RFC4493_KEY, nonce, cipher, bytes([tag[0] ^ 1]) + tag[1:4], b"aad") is None
    # a tag too short to verify is never taken as verified
    assert gcm_decrypt(RFC4493_KEY, nonce, cipher, tag[:3], b"aad") is None
    assert gcm_decrypt(RFC4493_KEY, nonce, cipher, b"", b"aad") is None


def test_oms_kdf_a_known_answer() -> None:
    """OMS Vol2 Annex N / OMS.md §4.2: master key 00..0F, MCR B30A0000, ID 78563412."""
    key = bytes(range(16))
    counter = int.from_bytes(bytes.fromhex("B30A0000"), "little")
    id_bytes = bytes.fromhex("78563412")
    assert kdf_a(key, 0, counter, id_bytes).hex().upper() == "ECCF39D475D730B8284FDFDC1995D52F"
    assert kdf_a(key, 1, counter, id_bytes).hex().upper() == "C9CD19FF5A9AAD5A6BBDA13BD2C4C7AD"
