"""``scripts/keys import``: one JSON line per meter, keys masked unless --show-keys, exit 2 on errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys

import pytest

from custom_components.oms.omslib.keyfiles import cli
from tests.keyfiles import Meter, encrypt_kem, kem_xml, wmbusmeters_file, zip_kem

ROOT = Path(__file__).resolve().parents[2]
KEY_A = bytes.fromhex("00112233445566778899aabbccddeeff")
KEY_B = bytes.fromhex("0F0E0D0C0B0A09080706050403020100")
PASSWORD = "80012345"


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """The library as scripts/keys runs it: top-level package ``omslib``, no Home Assistant."""
    return subprocess.run(
        [sys.executable, "-m", "omslib.keyfiles.cli", *args],
        input=None if stdin is None else stdin.decode(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT / "custom_components" / "oms")},
    )


@pytest.fixture
def zipped_kem(tmp_path: Path) -> Path:
    path = tmp_path / "12345678.zip.kem"
    meters = [Meter("12345678", KEY_A, name="MULTICAL 21"), Meter("23456789", KEY_B, name="MULTICAL 403")]
    path.write_bytes(zip_kem("12345678.kem", encrypt_kem(kem_xml(meters), PASSWORD)))
    return path


def test_import_masks_keys(zipped_kem: Path) -> None:
    result = run("import", str(zipped_kem), "--password", PASSWORD)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"id": "12345678", "manufacturer": "KAM", "name": "MULTICAL 21", "key": "****", "source": "kem"},
        {"id": "23456789", "manufacturer": "KAM", "name": "MULTICAL 403", "key": "****", "source": "kem"},
    ]
    for key in (KEY_A, KEY_B):
        assert key.hex() not in result.stdout.lower() + result.stderr.lower()


def test_import_show_keys(zipped_kem: Path) -> None:
    result = run("import", str(zipped_kem), "--password", PASSWORD, "--show-keys")
    assert result.returncode == 0
    assert [json.loads(line)["key"] for line in result.stdout.splitlines()] == [
        "00112233445566778899AABBCCDDEEFF",
        "0F0E0D0C0B0A09080706050403020100",
    ]


def test_wrong_and_missing_password(zipped_kem: Path) -> None:
    result = run("import", str(zipped_kem), "--password", "80012346")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "keys: the file could not be decrypted with this password\n"
    result = run("import", str(zipped_kem))
    assert result.returncode == 2
    assert result.stderr == "keys: the file is encrypted: give its password with --password\n"


def test_no_keys(tmp_path: Path) -> None:
    path = tmp_path / "plain-meter"
    path.write_text(wmbusmeters_file("Plain", "12345678", None))
    result = run("import", str(path))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        "keys: the file holds no meter with an ID and a key",
        "keys: warning: no_key: 12345678 (no key (NOKEY): the meter sends unencrypted)",
    ]


def test_warnings_on_stderr_and_stdin() -> None:
    text = f"name=Block\nid=12345678,8765*\nkey={KEY_A.hex()}\ndriver=multical21\n"
    result = run("import", "-", stdin=text.encode())
    assert result.returncode == 0
    assert json.loads(result.stdout) == {
        "id": "12345678",
        "manufacturer": None,
        "name": "Block",
        "key": "****",
        "source": "wmbusmeters",
    }
    assert result.stderr == (
        "keys: warning: wildcard: 8765* (a match expression, not one meter: add those meters by ID)\n"
    )


def test_xml_fields_used_on_stderr() -> None:
    xml = f'<Keys><Meter serial="12345678"><AESKey>{KEY_A.hex()}</AESKey></Meter></Keys>'
    result = run("import", "-", stdin=xml.encode())
    assert result.returncode == 0
    assert json.loads(result.stdout)["source"] == "xml"
    assert result.stderr == "keys: 12345678: key from Meter/AESKey; ID from Meter@serial\n"


def test_missing_file_and_usage(tmp_path: Path) -> None:
    result = run("import", str(tmp_path / "missing.kem"))
    assert result.returncode == 2
    assert result.stderr.startswith("keys: cannot read ")
    assert len(result.stderr.splitlines()) == 1
    assert run("export", "x").returncode == 2


def test_in_process_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.xml"
    path.write_text("<Meters><Meter>")
    assert cli.main(["import", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keys: the XML cannot be parsed")
    assert len(err.splitlines()) == 1


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python").exists(), reason="no .venv (run scripts/setup)")
def test_scripts_keys_wrapper(zipped_kem: Path) -> None:
    """scripts/keys runs the same module with the project's .venv."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "keys"), "import", str(zipped_kem), "--password", PASSWORD, "--show-keys"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0])["key"] == "00112233445566778899AABBCCDDEEFF"
