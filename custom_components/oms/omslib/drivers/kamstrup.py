"""Kamstrup (KAM/KAW) and other compact-frame meters: known format signatures, info codes.

* Compact frames (CI 0x79, EN 13757-3 Annex G / OMS Vol2 §4.4) name their record layout only by a
  CRC-16 signature. These meters send a handful of fixed layouts, listed here as the DIF/VIF
  bytes they send in their full frames, so a compact frame decodes before any full frame was heard.
* Multical 21 / flowIQ info codes, record ``02 FF 20`` (16 bit) or ``04 FF 23`` (32 bit): bit 0
  dry, 1 reverse flow, 2 leak, 3 burst; the 32-bit form adds 4 tamper and 5 low battery.
"""

from __future__ import annotations

from ..apl import signature_of
from ..compact import Layout, layout_from_headers, split_headers
from ..record import Record
from .base import Driver, DriverInput, DriverResult, alarms

KNOWN_FORMATS: dict[str, tuple[str, ...]] = {
    "KAM": (
        # water (Multical 21, flowIQ)
        "02FF2004134413615B6167",
        "02FF20041392013BA1015B8101E7FF0F",
        "04FF234413523B06FF1B426C61675167023B04138101E7FF0F",
        "02FF2004134413426C523B615B616751678101E7FF0F06FF1B",
        "02FF2004134413A1015B8101E7FF0F",
        "02FF2004134413615B5167",
        "02FF2004134413",
        "02FF200413523B",
        "04FF2304134413426C023B92013BA2013B06FF1BA1015B91015BA10167",
        # heat / cooling (Multical 302/403/603/803)
        "02F9FF15040604EEFF0704EEFF0804148440148480401402FD17026C426C44064414C44014C4804014043B0259025D",
        "030643060314426C022D01FF21",
        "030E430E0313426C022D01FF21",
        "040604FF0704FF080414043B0259025D04FF22026C44064414426C",
        "040F04FF0704FF08041484401484804014043B0259025D142D84100F84200F04FF22026C440F4414C44014C4804014426C",
        "0406041404FF0704FF080259025D023B02FF22026C44064414426C",
        # pressure, electricity
        "22691269026905FF0905FF0A02FD17",
        "040404843C042B04AB3C",
        "040504FB827504853C04FB82F53C01FD17",
    ),
    "EFE": (
        "426C441301FD17840113C40113840213C40213840313C40313840413C40413840513C40513840613C40613840713C40713"
        "840813046D0413",
    ),
}
"""Manufacturer -> the DIF/VIF sequences its meters send (whatever version and device type)."""
KNOWN_FORMATS["KAW"] = KNOWN_FORMATS["KAM"]


def _table() -> dict[tuple[str, int], Layout]:
    out: dict[tuple[str, int], Layout] = {}
    for manufacturer, formats in KNOWN_FORMATS.items():
        for hexed in formats:
            heads = bytes.fromhex(hexed)
            out[(manufacturer, signature_of(heads))] = layout_from_headers(split_headers(heads))
    return out


_LAYOUTS = _table()


def known_layout(manufacturer: str, signature: int) -> Layout | None:
    """The layout of a known format signature of this manufacturer, or None."""
    return _LAYOUTS.get((manufacturer, signature))


INFO_16 = ("burst", "leak", "backflow", "dry")
INFO_32 = ("battery_low", "fraud", *INFO_16)


def info_alarms(records: tuple[Record, ...]) -> list[Record]:
    """The flags of the current info-code record (storage 0), if the telegram has one."""
    for rec in records:
        if rec.storage or not isinstance(rec.value, int):
            continue
        if rec.dif_vif == "02FF20":
            return alarms(INFO_16, rec.value & 0x0F)
        if rec.dif_vif == "04FF23":
            return alarms(INFO_32, rec.value & 0x3F)
    return []


def decode_info(data: DriverInput) -> DriverResult | None:
    flags = info_alarms(data.records)
    return DriverResult(tuple(flags)) if flags else None


DRIVERS = (
    Driver(
        "kamstrup",
        frozenset({"KAM", "KAW"}),
        decode_info,
        description=__doc__ or "",
    ),
)
