"""FLAG manufacturer codes -> company names (omslib/manufacturers.py)."""

from __future__ import annotations

from collections import Counter
import json

import pytest

from custom_components.oms.demo import METERS
from custom_components.oms.omslib.decoder import Decoder
from custom_components.oms.omslib.errors import OmsError
from custom_components.oms.omslib.link import manufacturer_code, manufacturer_value
from custom_components.oms.omslib.manufacturers import MANUFACTURERS, manufacturer_brand, manufacturer_name
from tests.corpus import CORPUS


@pytest.mark.parametrize(
    ("code", "brand", "company"),
    [
        ("QDS", "Qundis", "Qundis GmbH"),
        ("KAM", "Kamstrup", "Kamstrup Energi A/S"),
        ("DME", "Diehl", "Diehl Metering GmbH"),
        ("TCH", "Techem", "Techem Service AG & Co. KG"),
        ("ZRI", "Zenner", "ZENNER International GmbH & Co. KG"),
        ("EFE", "Engelmann", "Engelmann Sensor GmbH"),
        ("qds", "Qundis", "Qundis GmbH"),
    ],
)
def test_known_codes(code: str, brand: str, company: str) -> None:
    assert manufacturer_brand(code) == brand
    assert manufacturer_name(code) == company


def test_unknown_and_missing_codes_stay_visible() -> None:
    assert manufacturer_name("XYZ") == "XYZ"
    assert manufacturer_brand("XYZ") == "XYZ"
    assert manufacturer_name(None) is None
    assert manufacturer_brand("") is None


def test_table_is_valid_flag_codes() -> None:
    assert len(MANUFACTURERS) >= 60
    for code, (brand, company) in MANUFACTURERS.items():
        assert manufacturer_code(manufacturer_value(code)) == code  # three letters A-Z, 15 bits
        assert brand == brand.strip()
        assert company == company.strip()
        assert brand
        assert company


def test_every_demo_meter_has_a_company() -> None:
    assert all(m.manufacturer in MANUFACTURERS for m in METERS)


def test_corpus_coverage() -> None:
    """Most meters of the public conformance corpus get a company name (measured, not all)."""
    path = CORPUS / "wmbusmeters-tests.jsonl"
    if not path.exists():
        pytest.skip(f"conformance corpus not found at {CORPUS}")
    seen: Counter[str] = Counter()
    decoder = Decoder()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            telegram = decoder.decode(bytes.fromhex(json.loads(line)["telegram"]))
        except (OmsError, ValueError):
            continue
        seen[telegram.header.address.manufacturer] += 1
    named = sum(n for code, n in seen.items() if code in MANUFACTURERS)
    assert named / sum(seen.values()) >= 0.9, sorted(c for c in seen if c not in MANUFACTURERS)


def test_a_manufacturer_field_of_zero_names_nobody() -> None:
    """Field 0 spells "@@@" (e.g. a TPL-first LoRaWAN meter mapped without a manufacturer): no company."""
    assert manufacturer_name("@@@") is None
    assert manufacturer_brand("@@@") is None
    assert manufacturer_brand("QDS") == "Qundis"
