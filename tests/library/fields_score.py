"""The all-fields score of issue 16: every numeric wmbusmeters field that carries a unit.

A field of ``wmbusmeters-tests.jsonl`` counts when its name ends in a unit suffix
(``_m3 _l _kwh _mwh _gj _wh _w _kw _c _k _m3h _lh _bar _v _a _hz _hca _pct``) and its
expected value is a number. It is matched when some decoded record of the same physical
dimension (any storage, tariff, function) agrees within 0.5 % or 0.001 absolute. Used by
``test_conformance.py`` (with a floor) and by ``scripts/bench.py`` (report per driver)::

    .venv/bin/python -m tests.library.fields_score
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
import json
from pathlib import Path
from typing import Any

from custom_components.oms.omslib.decoder import Decoder
from custom_components.oms.omslib.errors import OmsError
from custom_components.oms.omslib.keyring import Keyring
from custom_components.oms.omslib.record import Record
from custom_components.oms.omslib.telegram import Telegram

# unit symbol -> (family, factor to the family's base unit), for comparing records with expected values
UNIT_FAMILIES: dict[str, tuple[str, float]] = {
    "m³": ("volume", 1.0),
    "m^3": ("volume", 1.0),
    "l": ("volume", 1e-3),
    "L": ("volume", 1e-3),
    "ft³": ("volume", 0.028316846592),
    "Wh": ("energy", 1e-3),
    "kWh": ("energy", 1.0),
    "MWh": ("energy", 1e3),
    "GWh": ("energy", 1e6),
    "J": ("energy", 1 / 3.6e6),
    "kJ": ("energy", 1 / 3.6e3),
    "MJ": ("energy", 1 / 3.6),
    "GJ": ("energy", 1e3 / 3.6),
    "W": ("power", 1e-3),
    "kW": ("power", 1.0),
    "MW": ("power", 1e3),
    "J/h": ("power", 1 / 3.6e6),
    "kJ/h": ("power", 1 / 3.6e3),
    "MJ/h": ("power", 1 / 3.6),
    "GJ/h": ("power", 1e3 / 3.6),
    "m³/h": ("flow", 1.0),
    "m^3/h": ("flow", 1.0),
    "m³/min": ("flow", 60.0),
    "m^3/min": ("flow", 60.0),
    "m³/s": ("flow", 3600.0),
    "m^3/s": ("flow", 3600.0),
    "l/h": ("flow", 1e-3),
    "L/h": ("flow", 1e-3),
    "L/min": ("flow", 0.06),
    "L/s": ("flow", 3.6),
    "°C": ("temperature", 1.0),
    "C": ("temperature", 1.0),
    "deg C": ("temperature", 1.0),
    "K": ("kelvin", 1.0),
    "mK": ("kelvin", 1e-3),
    "s": ("time", 1.0),
    "min": ("time", 60.0),
    "h": ("time", 3600.0),
    "d": ("time", 86400.0),
    "days": ("time", 86400.0),
    "V": ("voltage", 1.0),
    "mV": ("voltage", 1e-3),
    "A": ("current", 1.0),
    "mA": ("current", 1e-3),
    "Hz": ("frequency", 1.0),
    "bar": ("pressure", 1.0),
    "mbar": ("pressure", 1e-3),
    "hPa": ("pressure", 1e-3),
    "kPa": ("pressure", 1e-2),
    "Pa": ("pressure", 1e-5),
    "g": ("mass", 1e-3),
    "kg": ("mass", 1.0),
    "t": ("mass", 1e3),
    "kg/h": ("mass_flow", 1.0),
    "kvarh": ("reactive_energy", 1.0),
    "kVARh": ("reactive_energy", 1.0),
    "varh": ("reactive_energy", 1e-3),
    "%": ("percent", 1.0),
    "%RH": ("percent", 1.0),
}

# The score's dimensions: the same, but K and °C are one dimension. M-Bus uses K only for temperature
# differences, which wmbusmeters prints as ``…_c`` fields.
UNITS: dict[str, tuple[str, float]] = {
    **UNIT_FAMILIES,
    "K": ("temperature", 1.0),
    "mK": ("temperature", 1e-3),
}

# field-name suffix -> the unit symbol it names ("hca", HCA units, has none: records carry no unit)
SUFFIX_UNITS: dict[str, str] = {
    "m3": "m³",
    "l": "l",
    "kwh": "kWh",
    "mwh": "MWh",
    "gj": "GJ",
    "wh": "Wh",
    "w": "W",
    "kw": "kW",
    "c": "°C",
    "k": "K",
    "m3h": "m³/h",
    "lh": "l/h",
    "bar": "bar",
    "v": "V",
    "a": "A",
    "hz": "Hz",
    "pct": "%",
}
# field-name suffix -> (dimension, factor from the suffix's unit to the dimension's base unit)
SUFFIXES: dict[str, tuple[str, float]] = {
    **{suffix: UNITS[unit] for suffix, unit in SUFFIX_UNITS.items()},
    "hca": ("hca", 1.0),
}

REL_TOL = 0.005
ABS_TOL = 0.001
CORPUS_FILE = "wmbusmeters-tests.jsonl"


def field_dimension(name: str) -> tuple[str, float] | None:
    """The dimension and unit factor a wmbusmeters field name's suffix stands for, if any."""
    suffix = name.rsplit("_", 1)[-1] if "_" in name else ""
    return SUFFIXES.get(suffix)


def record_values(records: Iterable[Record]) -> dict[str, list[float]]:
    """Every numeric record value in its dimension's base unit, by dimension."""
    out: dict[str, list[float]] = {}
    for rec in records:
        value = rec.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if "hca" in rec.quantity and rec.unit is None:
            out.setdefault("hca", []).append(float(value))
            continue
        dim = UNITS.get(rec.unit or "")
        if dim is not None:
            out.setdefault(dim[0], []).append(float(value) * dim[1])
    return out


def close(got: float, want: float) -> bool:
    """Within 0.5 % of the expected value, or 0.001 absolute."""
    return abs(got - want) <= max(ABS_TOL, REL_TOL * abs(want))


@dataclass(slots=True)
class Score:
    """Matched and total fields, overall and per driver (the decoder's driver, else "oms")."""

    matched: int = 0
    total: int = 0
    per_driver: dict[str, list[int]] = field(default_factory=dict)
    per_corpus_driver: dict[str, list[int]] = field(default_factory=dict)
    """The same counts by the corpus's (wmbusmeters') driver name."""
    misses: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.matched / self.total if self.total else 1.0

    def add(self, driver: str, ok: bool, test: str, name: str, want: float) -> None:
        self.total += 1
        self.matched += ok
        for table, key in (
            (self.per_driver, driver),
            (self.per_corpus_driver, test.split("/", maxsplit=1)[0]),
        ):
            row = table.setdefault(key, [0, 0])
            row[0] += ok
            row[1] += 1
        if not ok:
            self.misses.append((test, name, want))

    def lines(self, corpus_drivers: int = 0) -> list[str]:
        """A per-driver table (our driver; "-" = not decoded), then the ``corpus_drivers`` corpus
        drivers with the most misses."""
        out = [f"all numeric fields: {self.matched}/{self.total} = {self.ratio:.1%}", "  by our driver:"]
        for name, (ok, n) in sorted(self.per_driver.items(), key=lambda kv: (kv[1][0] - kv[1][1], kv[0])):
            out.append(f"    {name:<18} {ok:5}/{n:<5} {ok / n:6.1%}")
        worst = sorted(self.per_corpus_driver.items(), key=lambda kv: (kv[1][0] - kv[1][1], kv[0]))
        worst = [kv for kv in worst if kv[1][0] < kv[1][1]][:corpus_drivers]
        if worst:
            out.append("  most misses by corpus driver: " + ", ".join(f"{k} {a}/{b}" for k, (a, b) in worst))
        return out


def telegram_driver(tg: Telegram | None) -> str:
    """The driver that decoded a telegram ("oms" for the generic decoder, "-" when it failed)."""
    if tg is None:
        return "-"
    name = tg.extra.get("driver")
    return name if isinstance(name, str) else "oms"


def load_rows(corpus: Path) -> list[dict[str, Any]] | None:
    """The corpus rows in file order within each source (compact frames follow their full frame)."""
    path = corpus / CORPUS_FILE
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return sorted(rows, key=lambda r: (r["source"], r.get("seq", 0)))


def decode_row(row: dict[str, Any], decoders: dict[str, Decoder]) -> Telegram | None:
    """Decode one corpus row with the row's key; one decoder (format memory) per source file."""
    key = None if row["key"] == "NOKEY" else bytes.fromhex(row["key"])
    prev = decoders.get(row["source"])
    decoder = Decoder(Keyring({}, default=key), formats=prev.formats if prev else None)
    decoders.setdefault(row["source"], decoder)
    hexed = row["telegram"]
    try:  # the corpus's frames are CRC-free (as a stick delivers them): said, not guessed
        return decoder.decode(bytes.fromhex(hexed[: len(hexed) // 2 * 2]), "none")
    except OmsError:
        return None


def score_rows(
    rows: list[dict[str, Any]], decode: Callable[[dict[str, Any]], Telegram | None] | None = None
) -> Score:
    """Score every unit-suffixed numeric field of ``rows``."""
    decoders: dict[str, Decoder] = {}
    score = Score()
    for row in rows:
        tg = decode(row) if decode is not None else decode_row(row, decoders)
        values = record_values(tg.records) if tg is not None else {}
        driver = telegram_driver(tg)
        test = f"{row['driver']}/{row['name']}"
        for name, want in row["expected"].items():
            dim = field_dimension(name)
            if dim is None or isinstance(want, bool) or not isinstance(want, int | float):
                continue
            target = float(want) * dim[1]
            ok = any(close(got, target) for got in values.get(dim[0], ()))
            score.add(driver, ok, test, name, float(want))
    return score


def score_corpus(corpus: Path) -> Score | None:
    """The score over the whole corpus file, or None when the corpus is absent."""
    rows = load_rows(corpus)
    return None if rows is None else score_rows(rows)


if __name__ == "__main__":
    from tests.corpus import CORPUS

    result = score_corpus(CORPUS)
    print("corpus absent" if result is None else "\n".join(result.lines(corpus_drivers=40)))
