"""The decoder's results as JSON: one shape for ``oms-decode``, ``oms-listen`` and the LPWAN listener.

``telegram_json`` / ``error_json`` build the objects, ``dumps`` writes them (``orjson`` when
importable, else the standard ``json`` module; non-finite floats become null), ``telegram_line``
writes the same bytes faster for the per-line path, ``decode_line`` / ``decode_one`` never raise.
Error messages pass through a :class:`Scrubber` so that key material never reaches the output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
import importlib
import json
import math
from typing import TYPE_CHECKING, Any, Protocol

from .drivers import DRIVERS
from .errors import OmsError

if TYPE_CHECKING:
    from .record import Record, Series
    from .telegram import Address, Header, Telegram

JsonObj = dict[str, Any]


class DecoderLike(Protocol):
    """Anything with ``decode(raw) -> Telegram`` (the :class:`~.decoder.Decoder`, test doubles)."""

    def decode(self, raw: bytes, /) -> Telegram: ...


# --------------------------------------------------------------------------- JSON writer


def _json_fallback(obj: JsonObj) -> bytes:
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:  # a non-finite float slipped through: write it as null
        return json.dumps(_finite(obj), ensure_ascii=False, separators=(",", ":")).encode()


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _make_dumps() -> Callable[[JsonObj], bytes]:
    try:
        orjson = importlib.import_module("orjson")
    except ImportError:
        return _json_fallback
    odumps: Callable[[Any], bytes] = orjson.dumps
    oerror: type[Exception] = orjson.JSONEncodeError

    def dumps(obj: JsonObj) -> bytes:
        try:
            return odumps(obj)
        except oerror:  # e.g. an integer wider than 64 bits
            return _json_fallback(obj)

    return dumps


dumps = _make_dumps()

# --------------------------------------------------------------------------- result shaping

_NO_HEADER: JsonObj = {
    "link": None,
    "manufacturer": None,
    "id": None,
    "version": None,
    "device_type": None,
    "medium": None,
    "access_number": None,
    "status": None,
    "security_mode": None,
    "encrypted": None,
}


def json_value(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex().upper()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_DIF_VIF: dict[bytes, str] = {}


def record_json(rec: Record) -> JsonObj:
    """One record as the CLI prints it (non-finite floats become null when written)."""
    value = rec.value
    kind = type(value)
    if not (value is None or kind is int or kind is str or kind is float):
        value = json_value(value)  # type: ignore[assignment]
    key = rec.dib + rec.vib
    dif_vif = _DIF_VIF.get(key)
    if dif_vif is None:
        if len(_DIF_VIF) > 4096:
            _DIF_VIF.clear()
        dif_vif = _DIF_VIF[key] = key.hex().upper()
    out: JsonObj = {
        "quantity": rec.quantity,
        "value": value,
        "unit": rec.unit,
        "storage": rec.storage,
        "tariff": rec.tariff,
        "subunit": rec.subunit,
        "function": rec.function,
        "dif_vif": dif_vif,
    }
    if rec.series is not None:  # compact profile (issue 12): the series, and why it is incomplete
        out.update(series_json(rec.series))
    return out


def series_json(series: Series) -> JsonObj:
    """A compact profile's ``series`` (time, value, and storage for VIFE 1E) plus its facts."""
    register = series.kind == "register"
    points: list[JsonObj] = []
    for point in series.points:
        item: JsonObj = {"time": point.time, "value": point.value}
        if register:
            item["storage"] = point.storage
        points.append(item)
    out: JsonObj = {
        "series": points,
        "series_unit": series.unit,
        "series_step": series.step,
        "series_kind": series.kind,
        "series_mode": series.mode,
    }
    if series.base is not None:
        out["series_base"] = {"time": series.base.time, "value": series.base.value}
    if series.reason is not None:
        out["series_unresolved"] = {"reason": series.reason, "detail": series.detail}
    return out


def _header_fields(out: JsonObj, header: Header) -> None:
    addr: Address = header.address
    status = header.status
    out["link"] = header.link
    out["manufacturer"] = addr.manufacturer
    out["id"] = addr.id
    out["version"] = addr.version
    out["device_type"] = addr.device_type
    out["medium"] = addr.medium
    out["access_number"] = header.access_number
    out["status"] = None if status is None else status.raw
    out["security_mode"] = header.security_mode
    out["encrypted"] = header.encrypted


def telegram_json(tg: Telegram) -> JsonObj:
    """A decoded telegram as the CLI prints it."""
    out: JsonObj = {"ok": True, "error": None}
    _header_fields(out, tg.header)
    out["decrypted"] = tg.decrypted
    out["authenticated"] = tg.authenticated
    if "driver" in tg.extra:  # a manufacturer driver read (part of) this telegram (omslib/drivers)
        out["driver"] = tg.extra["driver"]
    protected = tg.encrypted_records
    # "encrypted": the record came from the decrypted/authenticated part (Telegram.encrypted_records)
    out["records"] = [{**record_json(r), "encrypted": i < protected} for i, r in enumerate(tg.records)]
    return out


def error_json(code: str, message: str, header: Header | None = None) -> JsonObj:
    """A failed decode as the CLI prints it; header fields are filled when known."""
    out: JsonObj = {"ok": False, "error": {"code": code, "message": message}}
    if header is None:
        out.update(_NO_HEADER)
    else:
        _header_fields(out, header)
    out["decrypted"] = False
    out["authenticated"] = False
    out["records"] = []
    return out


class Scrubber:
    """Removes key material from error messages (defence in depth: the decoder never puts it there)."""

    def __init__(self, keys: Iterable[bytes]) -> None:
        self._needles = sorted(
            {s for k in keys if k for s in (k.hex(), k.hex().upper())}, key=len, reverse=True
        )

    def __call__(self, text: str) -> str:
        for needle in self._needles:
            if needle in text:
                text = text.replace(needle, "<key>")
        return text


_RECORDS_JSON: dict[tuple[int, int], tuple[tuple[Record, ...], bytes]] = {}
"""(id(records tuple), encrypted_records) -> (the tuple, its JSON array body). The decoder hands out
the same tuple for an APL it has seen before; holding the tuple keeps its id from being reused."""
_RECORD_JSON: dict[int, tuple[Record, bytes, bytes]] = {}
"""id(record) -> (the record, its JSON object marked ``"encrypted":false``, and ``true``); records of
repeated data bytes are shared objects."""


def _records_body(records: tuple[Record, ...], protected: int) -> bytes:
    """The comma-separated JSON objects of ``records`` (without brackets), the first ``protected``
    marked encrypted, memoised."""
    memo_key = (id(records), protected)
    hit = _RECORDS_JSON.get(memo_key)
    if hit is not None and hit[0] is records:
        return hit[1]
    one = _RECORD_JSON
    parts = []
    for i, rec in enumerate(records):
        known = one.get(id(rec))
        if known is None or known[0] is not rec:
            if len(one) >= 8192:
                one.clear()
            body = dumps(record_json(rec))[:-1]
            known = one[id(rec)] = (rec, body + b',"encrypted":false}', body + b',"encrypted":true}')
        parts.append(known[2] if i < protected else known[1])
    body = b",".join(parts)
    if len(_RECORDS_JSON) >= 4096:
        _RECORDS_JSON.clear()
    _RECORDS_JSON[memo_key] = (records, body)
    return body


_ADDRESS_JSON: dict[int, tuple[Address, bytes]] = {}
"""id(address) -> (the address, its ``"manufacturer":…,"medium":…`` members); addresses are shared."""
_SMALL: dict[int | None, bytes] = {None: b"null", **{i: b"%d" % i for i in range(256)}}
_FLAGS: dict[bool, bytes] = {True: b"true", False: b"false"}
_LINKS: dict[str, bytes] = {"wmbus": b'"wmbus"', "mbus": b'"mbus"'}


def _address_members(addr: Address) -> bytes:
    hit = _ADDRESS_JSON.get(id(addr))
    if hit is not None and hit[0] is addr:
        return hit[1]
    members = dumps(
        {
            "manufacturer": addr.manufacturer,
            "id": addr.id,
            "version": addr.version,
            "device_type": addr.device_type,
            "medium": addr.medium,
        }
    )[1:-1]
    if len(_ADDRESS_JSON) >= 4096:
        _ADDRESS_JSON.clear()
    _ADDRESS_JSON[id(addr)] = (addr, members)
    return members


_DRIVERS: dict[object, bytes] = {d.name: b'"' + d.name.encode() + b'"' for d in DRIVERS}
"""Driver name -> its JSON string (omslib/drivers)."""


def telegram_line(tg: Telegram) -> bytes:
    """``dumps(telegram_json(tg))``, byte for byte, without re-serialising what was seen before
    (records and addresses are shared objects; the few per-telegram numbers come from tables)."""
    header = tg.header
    records = tg.records
    status = header.status
    try:
        if type(records) is not tuple:
            raise TypeError
        driver = tg.extra.get("driver")
        head = b"".join(
            (
                b'{"ok":true,"error":null,"link":',
                _LINKS[header.link],
                b",",
                _address_members(header.address),
                b',"access_number":',
                _SMALL[header.access_number],
                b',"status":',
                _SMALL[None if status is None else status.raw],
                b',"security_mode":',
                _SMALL[header.security_mode],
                b',"encrypted":',
                _FLAGS[header.encrypted],
                b',"decrypted":',
                _FLAGS[tg.decrypted],
                b',"authenticated":',
                _FLAGS[tg.authenticated],
                b"" if driver is None else b',"driver":' + _DRIVERS[driver],
                b',"records":[',
            )
        )
    except (KeyError, TypeError):  # anything unusual: the general path
        return dumps(telegram_json(tg))
    return head + _records_body(records, tg.encrypted_records) + b"]}"


def decode_line(decoder: DecoderLike, raw: bytes, scrub: Callable[[str], str] = str) -> bytes:
    """One telegram as its JSON line (without the newline); never raises for bad input."""
    try:
        tg = decoder.decode(raw)
    except OmsError as err:
        return dumps(error_json(err.code, scrub(err.message), err.header))
    except Exception as err:  # a decoder bug must not stop a stream
        return dumps(error_json("internal", scrub(f"{type(err).__name__}: {err}")))
    try:
        return telegram_line(tg)
    except Exception as err:
        return dumps(error_json("internal", scrub(f"{type(err).__name__}: {err}")))


def decode_one(decoder: DecoderLike, raw: bytes, scrub: Callable[[str], str] = str) -> JsonObj:
    """Decode one telegram into its JSON shape; never raises for bad input."""
    try:
        tg = decoder.decode(raw)
    except OmsError as err:
        return error_json(err.code, scrub(err.message), err.header)
    except Exception as err:  # a decoder bug must not stop a stream
        return error_json("internal", scrub(f"{type(err).__name__}: {err}"))
    return telegram_json(tg)
