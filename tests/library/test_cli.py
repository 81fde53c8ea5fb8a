"""The ``decode`` command: in-process with a fake and the real decoder, and as a real subprocess."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
import subprocess
import sys
from typing import Any

import pytest

from custom_components.oms.omslib import cli, explain, jsonout
from custom_components.oms.omslib.errors import MalformedError, OmsError, WrongKeyError
from custom_components.oms.omslib.keyring import Keyring
from custom_components.oms.omslib.record import Record
from custom_components.oms.omslib.telegram import Address, Header, Status, Telegram

ROOT = Path(__file__).resolve().parents[2]
KEY_HEX = "0F1E2D3C4B5A69788796A5B4C3D2E1F0"
KEY = bytes.fromhex(KEY_HEX)
METER_ID = "12345678"


# --------------------------------------------------------------------------- test telegrams (built here)


def _plain_records() -> bytes:
    # 0C 13: volume, 8-digit BCD, 10^-3 m³ = 12345.678 m³; 02 FD 17: error flags 0.
    return bytes.fromhex("0C1378563412") + bytes.fromhex("02FD170000")


def _wmbus(ci_and_rest: bytes) -> bytes:
    body = bytes.fromhex("442D2C") + bytes.fromhex("78563412") + bytes([0x1B, 0x07]) + ci_and_rest
    return bytes([len(body)]) + body


def plain_telegram() -> bytes:
    """KAM 12345678 water, short TPL header, security mode 0."""
    return _wmbus(bytes.fromhex("7A2A000000") + _plain_records())


def mode5_telegram(key: bytes = KEY, access: int = 0x2A) -> bytes:
    """The same records, AES-128-CBC mode 5, one encrypted block."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    plain = b"\x2f\x2f" + _plain_records()
    plain += b"\x2f" * (-len(plain) % 16)
    iv = bytes.fromhex("2D2C") + bytes.fromhex("78563412") + bytes([0x1B, 0x07]) + bytes([access]) * 8
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    cipher = enc.update(plain) + enc.finalize()
    cf = bytes([0x10 * (len(plain) // 16), 0x05])
    return _wmbus(bytes([0x7A, access, 0x00]) + cf + cipher)


# --------------------------------------------------------------------------- fake decoder


ADDR = Address(manufacturer="KAM", id=METER_ID, version=0x1B, device_type=0x07)
HEADER = Header(
    link="wmbus",
    c_field=0x44,
    address=ADDR,
    link_address=ADDR,
    ci=0x7A,
    access_number=42,
    status=Status(0),
    security_mode=5,
    encrypted=True,
)


class FakeDecoder:
    """Returns a fixed telegram; ``FF`` as first byte raises wrong_key; ``EE`` raises a bug."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.seen: list[bytes] = []

    def decode(self, raw: bytes) -> Telegram:
        self.seen.append(raw)
        if raw[:1] == b"\xff":
            raise WrongKeyError(f"decryption failed for {METER_ID}", header=HEADER)
        if raw[:1] == b"\xee":
            raise RuntimeError("boom")
        if raw[:1] == b"\xdd":
            raise MalformedError("bad")
        records = (
            Record(dib=b"\x0c", vib=b"\x13", quantity="volume", value=12345.678, unit="m³"),
            Record(dib=b"\x02", vib=b"\xfd\x17", quantity="error_flags", value=0),
            Record(dib=b"\x0d", vib=b"\xfd\x0e", quantity="firmware_version", value=b"\x01\xab"),
            Record(dib=b"\x05", vib=b"\x5b", quantity="flow_temperature", value=float("nan"), unit="°C"),
        )
        return Telegram(header=HEADER, records=records, decrypted=True, encrypted_records=len(records))


def run(
    argv: list[str], stdin: bytes = b"", factory: Any = FakeDecoder
) -> tuple[int, list[dict[str, Any]], str, str]:
    out = io.BytesIO()
    err = io.StringIO()
    code = cli.run_decode(argv, io.BytesIO(stdin), out, err, decoder_factory=factory)
    text = out.getvalue().decode()
    lines = [json.loads(x) for x in text.splitlines()] if "--explain" not in argv else []
    return code, lines, text, err.getvalue()


EXPECTED_KEYS = [
    "ok",
    "error",
    "link",
    "manufacturer",
    "id",
    "version",
    "device_type",
    "medium",
    "access_number",
    "status",
    "security_mode",
    "encrypted",
    "decrypted",
    "authenticated",
    "records",
]


# --------------------------------------------------------------------------- hex cleaning


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2e44", b"\x2e\x44"),
        ("2E 44", b"\x2e\x44"),
        ("2E_44|93:15", b"\x2e\x44\x93\x15"),
        ("  2e44\r\n", b"\x2e\x44"),
        ("", None),
        ("   ", None),
        ("# comment", None),
        ("2e44 # trailing comment", b"\x2e\x44"),
    ],
)
def test_clean_hex(text: str, expected: bytes | None) -> None:
    assert cli.clean_hex(text) == expected


@pytest.mark.parametrize("text", ["2e4", "zz", "2e 4g", "héllo"])
def test_clean_hex_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="hex"):
        cli.clean_hex(text)


# --------------------------------------------------------------------------- JSON shaping


def test_json_shape_and_types() -> None:
    code, lines, _, err = run(["0011"])
    assert code == 0
    assert err == ""
    (obj,) = lines
    assert list(obj) == EXPECTED_KEYS
    assert obj["ok"] is True
    assert obj["error"] is None
    assert obj["link"] == "wmbus"
    assert (obj["manufacturer"], obj["id"], obj["version"], obj["device_type"]) == ("KAM", METER_ID, 27, 7)
    assert obj["medium"] == "water"
    assert (obj["access_number"], obj["status"], obj["security_mode"]) == (42, 0, 5)
    assert obj["encrypted"] is True
    assert obj["decrypted"] is True
    assert obj["authenticated"] is False
    rec = obj["records"][0]
    assert list(rec.items()) == [  # the keys in this order
        ("quantity", "volume"),
        ("value", 12345.678),
        ("unit", "m³"),
        ("storage", 0),
        ("tariff", 0),
        ("subunit", 0),
        ("function", "instantaneous"),
        ("dif_vif", "0C13"),
        ("encrypted", True),  # inside the decrypted mode-5 blocks
    ]
    assert all(r["encrypted"] is True for r in obj["records"])
    assert obj["records"][1]["dif_vif"] == "02FD17"
    assert obj["records"][2]["value"] == "01AB"  # bytes -> hex
    assert obj["records"][3]["value"] is None  # NaN -> null (valid JSON)


def test_json_fallback_matches_orjson() -> None:
    tg = FakeDecoder(Keyring()).decode(b"\x00")
    obj = jsonout.telegram_json(tg)
    assert json.loads(jsonout._json_fallback(obj)) == json.loads(jsonout.dumps(obj))
    assert json.loads(jsonout._json_fallback({"x": float("inf")})) == {"x": None}


def test_huge_int_falls_back() -> None:
    assert json.loads(jsonout.dumps({"v": 2**80})) == {"v": 2**80}


# --------------------------------------------------------------------------- input forms


def test_arguments_in_order() -> None:
    code, lines, _, _ = run(["00 11", "ff00", "dd"])
    assert code == 0
    assert [x["ok"] for x in lines] == [True, False, False]
    assert lines[1]["error"]["code"] == "wrong_key"
    assert lines[2]["error"]["code"] == "malformed"


def test_stdin_comments_blanks_separators() -> None:
    seen: list[FakeDecoder] = []

    def factory(keyring: Keyring) -> FakeDecoder:
        seen.append(FakeDecoder(keyring))
        return seen[0]

    stdin = b"# header comment\n\n  \n2E_44|93:15 AB\r\n#2E44\n0011 # note\nzz\n"
    code, lines, _, _ = run([], stdin, factory)
    assert code == 0
    assert len(lines) == 3
    assert seen[0].seen == [bytes.fromhex("2E449315AB"), bytes.fromhex("0011")]
    assert lines[2]["ok"] is False
    assert lines[2]["error"]["code"] == "malformed"
    assert list(lines[2]) == EXPECTED_KEYS
    assert lines[2]["id"] is None


def test_odd_length_is_malformed() -> None:
    _, lines, _, _ = run(["123"])
    assert lines[0]["error"] == {"code": "malformed", "message": "odd number of hex digits"}


def test_decoder_bug_does_not_stop_stream() -> None:
    code, lines, _, _ = run([], b"ee\n00\n")
    assert code == 0
    assert lines[0]["error"]["code"] == "internal"
    assert lines[1]["ok"] is True


def test_wrong_key_keeps_header() -> None:
    _, lines, _, _ = run(["ff"])
    obj = lines[0]
    assert obj["ok"] is False
    assert obj["id"] == METER_ID
    assert obj["manufacturer"] == "KAM"
    assert obj["records"] == []


# --------------------------------------------------------------------------- keys


def test_key_forms() -> None:
    rings: list[Keyring] = []

    def factory(keyring: Keyring) -> FakeDecoder:
        rings.append(keyring)
        return FakeDecoder(keyring)

    code, *_ = run(["--key", KEY_HEX, "--key", f"87654321={KEY_HEX.lower()}", "00"], factory=factory)
    assert code == 0
    ring = rings[0]
    assert ring.key_for("87654321") == KEY
    assert ring.key_for("11111111") == KEY  # default
    code, *_ = run([f"--key=ABCDEF01={KEY_HEX[:16]} {KEY_HEX[16:]}", "00"], factory=factory)
    assert code == 0
    assert rings[1].key_for("abcdef01") == KEY
    assert rings[1].key_for("11111111") is None


@pytest.mark.parametrize(
    "argv",
    [
        ["--key", KEY_HEX[:-2]],
        ["--key", KEY_HEX[:-1] + "G"],
        ["--key", f"1234={KEY_HEX}"],
        ["--key", f"12345678={KEY_HEX}00"],
        ["--key", KEY_HEX, "--key", KEY_HEX],
        ["--key"],
        ["--bogus"],
        ["--kye", KEY_HEX],
    ],
)
def test_usage_errors_exit_2_without_key(argv: list[str]) -> None:
    code, _, out, err = run(argv)
    assert code == 2
    assert out == ""
    assert "error" in err
    assert "usage" in err
    for fragment in (KEY_HEX, KEY_HEX.lower(), KEY_HEX[:16], KEY_HEX[8:24]):
        assert fragment not in err


def test_scrubber_hides_key_in_messages() -> None:
    class Leaky(FakeDecoder):
        def decode(self, raw: bytes) -> Telegram:
            raise OmsError(f"key {KEY_HEX.lower()} and {KEY_HEX} failed")

    _, lines, out, _ = run(["--key", KEY_HEX, "00"], factory=Leaky)
    assert KEY_HEX not in out
    assert KEY_HEX.lower() not in out
    assert "<key>" in lines[0]["error"]["message"]


def test_redact() -> None:
    redacted = cli.redact_keys(f"unrecognized arguments: {KEY_HEX} 2E44")
    assert redacted == "unrecognized arguments: <redacted> 2E44"


def test_help_and_main_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _, _ = run(["--help"])
    assert code == 0
    assert cli.main([]) == 2
    assert cli.main(["frobnicate"]) == 2


# --------------------------------------------------------------------------- explain (structure only)


def test_explain_fake_telegram_layers() -> None:
    code, _, text, _ = run(["--explain", plain_telegram().hex()])
    assert code == 0
    assert "link (wM-Bus DLL)" in text
    assert "TPL (transport layer)" in text
    assert "APL (application layer)" in text
    assert "manufacturer KAM" in text
    assert "ID 12345678" in text
    assert "access number 42" in text


def test_explain_wired_ell_afl_garbage() -> None:
    wired = bytes.fromhex("68 0B 0B 68 08 05 72 78563412 2D2C 1B 07 01 00 0000".replace(" ", ""))
    # (checksum and stop byte appended)
    wired += bytes([sum(wired[4:]) & 0xFF, 0x16])
    ell = _wmbus(bytes.fromhex("8C2027") + bytes.fromhex("78") + _plain_records())
    afl = _wmbus(
        bytes.fromhex("900F002C25B30A0000AF5D74DF73A600D9") + bytes.fromhex("7A2A000000") + b"\x2f\x2f"
    )
    _, _, text, _ = run(["--explain", wired.hex(), ell.hex(), afl.hex(), "00", "zz", "E5"])
    assert "link (wired M-Bus long frame)" in text
    assert "ELL (extended link layer)" in text
    assert "AFL (authentication and fragmentation layer)" in text
    assert "MCR (message counter) 2739" in text
    assert "too short" in text
    assert "error malformed" in text
    assert "ACK" in text


def test_explain_never_crashes_on_random_bytes() -> None:
    import random

    rnd = random.Random(7)
    base = plain_telegram()
    for _ in range(2000):
        data = bytearray(base)
        for _ in range(rnd.randint(1, 4)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        data = data[: rnd.randint(0, len(data))]
        sections = explain.explain(bytes(data), None, None)
        assert isinstance(sections, list)


def test_explain_provider_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        explain,
        "_provider",
        lambda layer: (lambda d: [(0, d[:1], f"custom {layer}")]) if layer == "tpl" else None,
    )
    sections = explain.explain(plain_telegram(), None, None)
    titles = dict(sections)
    assert titles["TPL (transport layer)"] == [(10, b"\x7a", "custom tpl")]

    def broken(layer: str) -> Any:
        return lambda d: 1 / 0

    monkeypatch.setattr(explain, "_provider", broken)
    sections = explain.explain(plain_telegram(), None, None)
    assert "CI 0x7A" in dict(sections)["TPL (transport layer)"][0][2]


# --------------------------------------------------------------------------- real decoder


def _real() -> None:
    pytest.importorskip("custom_components.oms.omslib.decoder", reason="decoder.py not written yet")
    pytest.importorskip("cryptography")


def test_real_plaintext() -> None:
    _real()
    code, lines, _, _ = run([plain_telegram().hex()], factory=cli._make_decoder)
    assert code == 0
    obj = lines[0]
    assert obj["ok"] is True, obj
    assert (obj["manufacturer"], obj["id"], obj["medium"]) == ("KAM", METER_ID, "water")
    vol = obj["records"][0]
    assert (vol["value"], vol["unit"], vol["dif_vif"]) == (12345.678, "m³", "0C13")


def test_real_key_forms_and_wrong_key() -> None:
    _real()
    frame = mode5_telegram().hex()
    wrong = "00" * 16
    for keys in (
        ["--key", KEY_HEX],
        ["--key", f"{METER_ID}={KEY_HEX}"],
        ["--key", f"87654321={wrong}", "--key", KEY_HEX],
    ):
        _, lines, out, _ = run([*keys, frame], factory=cli._make_decoder)
        assert lines[0]["ok"] is True, lines[0]
        assert lines[0]["decrypted"] is True
        assert lines[0]["records"][0]["value"] == 12345.678
        assert KEY_HEX not in out.upper()
    _, lines, out, _ = run(["--key", f"{METER_ID}={wrong}", frame], factory=cli._make_decoder)
    obj = lines[0]
    assert obj["ok"] is False
    assert obj["error"]["code"] == "wrong_key"
    assert (obj["id"], obj["manufacturer"], obj["access_number"], obj["security_mode"]) == (
        METER_ID,
        "KAM",
        42,
        5,
    )
    assert obj["encrypted"] is True
    _, lines, _, _ = run([frame], factory=cli._make_decoder)
    assert lines[0]["error"]["code"] == "no_key"
    assert lines[0]["id"] == METER_ID


def test_real_explain_encrypted() -> None:
    _real()
    _, _, text, _ = run(["--explain", "--key", KEY_HEX, mode5_telegram().hex()], factory=cli._make_decoder)
    assert "link (wM-Bus DLL)" in text
    assert "TPL (transport layer)" in text
    assert "security mode 5" in text
    assert "APL" in text
    assert "volume" in text
    assert KEY_HEX not in text.upper()


# --------------------------------------------------------------------------- subprocess


def _subprocess(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The library as scripts/decode runs it: top-level package ``omslib``, no Home Assistant."""
    return subprocess.run(
        [sys.executable, "-m", "omslib.cli", "decode", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT / "custom_components" / "oms")},
        check=False,
    )


def test_subprocess_stdin_and_keys() -> None:
    _real()
    stdin = "# test\n\n" + plain_telegram().hex(" ") + "\n" + mode5_telegram().hex("_") + "\nnothex\n"
    proc = _subprocess(["--key", f"{METER_ID}={KEY_HEX}"], stdin)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [x["ok"] for x in lines] == [True, True, False]
    assert lines[1]["decrypted"] is True
    assert lines[2]["error"]["code"] == "malformed"
    assert KEY_HEX not in proc.stdout.upper()
    assert KEY_HEX not in proc.stderr.upper()


def test_subprocess_wrong_key_and_usage() -> None:
    _real()
    proc = _subprocess(["--key", "00" * 16, mode5_telegram().hex()])
    assert proc.returncode == 0
    obj = json.loads(proc.stdout)
    assert obj["error"]["code"] == "wrong_key"
    assert obj["id"] == METER_ID
    proc = _subprocess(["--key", KEY_HEX[:30]])
    assert proc.returncode == 2
    assert "32 hex digits" in proc.stderr
    assert KEY_HEX[:30] not in proc.stderr.upper()
    assert proc.stdout == ""


def test_subprocess_explain() -> None:
    _real()
    proc = _subprocess(["--explain", plain_telegram().hex()])
    assert proc.returncode == 0
    for title in ("link (wM-Bus DLL)", "TPL (transport layer)", "APL (application layer)", "result: ok"):
        assert title in proc.stdout


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python").exists(), reason="no .venv (run scripts/setup)")
def test_scripts_decode_wrapper() -> None:
    _real()
    proc = subprocess.run(
        [str(ROOT / "scripts" / "decode"), plain_telegram().hex()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
