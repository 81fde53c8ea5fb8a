"""Command-line decoder: ``python -m omslib.cli decode [...]``, ``oms-decode`` when installed.

Usage (also through ``scripts/decode``)::

    decode [--key HEX | --key ID=HEX]... [--explain] [HEX ...]

Decodes the telegrams given as arguments or, when there are none, one hex
telegram per line from stdin (blank lines and ``#`` comments are ignored;
``' '``, ``'_'``, ``'|'`` and ``':'`` may separate bytes). Prints one JSON object
per telegram, in input order; output is flushed whenever the decoder has answered
every line it has read and would wait for more input (so a line typed or piped in
alone is answered at once, while a bulk input is written in chunks); with ``--explain`` a
byte-by-byte breakdown per telegram instead. Exit status 0 whatever the
telegrams hold, 2 for usage errors. Key material never appears in the output.

The per-line path is kept lean (20,000 plaintext telegrams/s on one core):
separators are removed with ``bytes.translate``, hex is parsed with
``binascii.unhexlify`` and JSON is written with ``orjson`` when importable
(Home Assistant ships it), else with the standard ``json`` module.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Iterable, Sequence
import importlib
import json
import math
import sys
from typing import IO, TYPE_CHECKING, Any, Protocol

from .crc import use_fast_table
from .drivers import DRIVERS
from .errors import OmsError
from .keyring import Keyring, parse_key

if TYPE_CHECKING:
    from .record import Record, Series
    from .telegram import Address, Header, Telegram

JsonObj = dict[str, Any]
Explanation = list[tuple[int, bytes, str]]
"""(offset, bytes, meaning) rows; offsets are relative to the data handed to the explainer."""


class _Decoder(Protocol):
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

# --------------------------------------------------------------------------- hex input

_SEPARATORS = b" _|:\t\r\n\v\f"


def clean_hex(text: str | bytes) -> bytes | None:
    """The bytes of one hex line with separators removed; None for a blank or comment line.

    Raises ValueError when what remains is not an even number of hex digits.
    """
    data = text.encode("ascii", "replace") if isinstance(text, str) else text
    hash_at = data.find(b"#")
    if hash_at >= 0:
        data = data[:hash_at]
    data = data.translate(None, _SEPARATORS)
    if not data:
        return None
    try:
        return binascii.unhexlify(data)
    except (binascii.Error, ValueError):
        raise ValueError("odd number of hex digits" if len(data) % 2 else "not hexadecimal") from None


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


def _value(value: object) -> object:
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
        value = _value(value)  # type: ignore[assignment]
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


class _Scrubber:
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
_ENCRYPTED_JSON: dict[bool, bytes] = {True: b',"encrypted":true}', False: b',"encrypted":false}'}
_RECORD_JSON: dict[int, tuple[Record, bytes]] = {}
"""id(record) -> (the record, its JSON object); records of repeated data bytes are shared objects."""


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
            known = one[id(rec)] = (rec, dumps(record_json(rec)))
        parts.append(known[1][:-1] + _ENCRYPTED_JSON[i < protected])
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


def decode_line(decoder: _Decoder, raw: bytes, scrub: Callable[[str], str] = str) -> bytes:
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


def decode_one(decoder: _Decoder, raw: bytes, scrub: Callable[[str], str] = str) -> JsonObj:
    """Decode one telegram into its JSON shape; never raises for bad input."""
    try:
        tg = decoder.decode(raw)
    except OmsError as err:
        return error_json(err.code, scrub(err.message), err.header)
    except Exception as err:  # a decoder bug must not stop a stream
        return error_json("internal", scrub(f"{type(err).__name__}: {err}"))
    return telegram_json(tg)


# --------------------------------------------------------------------------- explain (lazy)

_EXPLAIN_NAMES = frozenset(
    (
        "_CI_NAMES",
        "_LONG",
        "_SHORT",
        "_C_FIELDS",
        "_DATA_LEN",
        "_manufacturer",
        "_bcd_id",
        "_strip_crcs",
        "_explain_address",
        "_device_name",
        "_explain_cf",
        "explain_tpl",
        "_ELL_ENC",
        "explain_ell",
        "explain_afl",
        "_builtin_apl",
        "_OPTIONAL_PROVIDERS",
        "_provider",
        "_override",
        "explain_apl",
        "_plaintext_of",
        "explain",
        "_explain_upper",
        "_records_only",
        "format_explanation",
        "explain_one",
    )
)


def __getattr__(name: str) -> Any:
    """``cli.explain``, ``cli.explain_one``, …: loaded from :mod:`.cli_explain` on first use."""
    if name in _EXPLAIN_NAMES:
        module = importlib.import_module(f"{__package__}.cli_explain")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- command line


class UsageError(Exception):
    """Bad command-line usage; the message is printed and the exit status is 2."""


def parse_keys(specs: Sequence[str]) -> Keyring:
    """``--key HEX`` (default key) and ``--key ID=HEX`` (per meter). Messages never echo the key."""
    keys: dict[str, bytes] = {}
    default: bytes | None = None
    for n, spec in enumerate(specs, 1):
        meter_id, sep, key_text = spec.rpartition("=")
        try:
            key = parse_key(key_text)
        except ValueError:
            where = f" for meter {meter_id}" if sep and _is_id(meter_id) else ""
            raise UsageError(
                f"--key #{n}{where}: expected 32 hex digits (an AES-128 key), optionally as ID=HEX"
            ) from None
        if sep:
            if not _is_id(meter_id):
                raise UsageError(f"--key #{n}: the meter ID before '=' must be 8 hex digits")
            keys[meter_id.upper()] = key
        else:
            if default is not None:
                raise UsageError(f"--key #{n}: only one default key (without ID=) is allowed")
            default = key
    return Keyring(keys, default=default)


def _is_id(text: str) -> bool:
    return len(text) == 8 and all(c in "0123456789abcdefABCDEF" for c in text)


def redact_keys(text: str) -> str:
    """Hide every run of 16 or more hex digits (a key typed after a misspelt option)."""
    out: list[str] = []
    run: list[str] = []
    for ch in text + " ":
        if ch in _HEX_DIGITS:
            run.append(ch)
            continue
        out.append("<redacted>" if len(run) >= 16 else "".join(run))
        run.clear()
        out.append(ch)
    return "".join(out)[:-1]


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class _Args:
    """The parsed ``decode`` command line."""

    __slots__ = ("explain", "frame_format", "key", "telegrams")

    def __init__(self, key: list[str], explain: bool, telegrams: list[str]) -> None:
        self.key = key
        self.explain = explain
        self.telegrams = telegrams
        self.frame_format: str | None = None  # --frame-format goes through argparse


def _quick_args(argv: Sequence[str]) -> _Args | None:
    """The common command lines (``--key V``, ``--key=V``, ``--explain``, hex arguments) without
    importing argparse (a fifth of the start-up); None for anything else, which argparse handles
    (help, abbreviations, errors)."""
    keys: list[str] = []
    explain = False
    telegrams: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--key":
            value = next(it, None)
            if value is None or value.startswith("-"):
                return None
            keys.append(value)
        elif arg.startswith("--key="):
            keys.append(arg[6:])
        elif arg == "--explain":
            explain = True
        elif arg.startswith("-"):
            return None
        else:
            telegrams.append(arg)
    return _Args(keys, explain, telegrams)


def _parse_args(argv: Sequence[str]) -> Any:
    quick = _quick_args(argv)
    return quick if quick is not None else _build_parser().parse_args(list(argv))


def _build_parser() -> Any:
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> Any:  # never echo key-like arguments
            raise UsageError(redact_keys(message))

    parser = _Parser(prog="decode", description="Decode wM-Bus / M-Bus (OMS) telegrams to JSON lines.")
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="[ID=]HEX",
        help="AES-128 key: HEX for any meter, ID=HEX for one meter (repeatable)",
    )
    parser.add_argument(
        "--explain", action="store_true", help="print a byte-by-byte breakdown instead of JSON"
    )
    parser.add_argument(
        "--frame-format",
        choices=("A", "B", "none"),
        help="the input's wM-Bus frame format: A/B with block CRCs, none = CRCs removed (default: detect)",
    )
    parser.add_argument(
        "telegrams", nargs="*", metavar="HEX", help="telegrams (default: one per line on stdin)"
    )
    return parser


class _FormatDecoder:
    """A decoder that reads every wM-Bus input in one frame format (``--frame-format``)."""

    def __init__(self, decoder: Any, frame_format: str) -> None:
        self._decoder = decoder
        self._format = frame_format

    def decode(self, raw: bytes, /) -> Telegram:
        telegram: Telegram = self._decoder.decode(raw, self._format)
        return telegram


def _make_decoder(keyring: Keyring) -> _Decoder:
    from .decoder import Decoder

    return Decoder(keyring)


def run_decode(
    argv: Sequence[str],
    stdin: IO[bytes],
    stdout: IO[bytes],
    stderr: IO[str],
    decoder_factory: Callable[[Keyring], _Decoder] = _make_decoder,
) -> int:
    """The ``decode`` command; returns the exit status."""
    try:
        args = _parse_args(argv)
        keyring = parse_keys(args.key)
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except UsageError as err:
        stderr.write(
            f"decode: error: {err}\nusage: decode [--key HEX | --key ID=HEX]... [--explain]"
            " [--frame-format A|B|none] [HEX ...]\n"
        )
        return 2
    key_bytes = [parse_key(s.rpartition("=")[2]) for s in args.key]
    scrub: Callable[[str], str] = _Scrubber(key_bytes) if key_bytes else str
    decoder = decoder_factory(keyring)
    if args.frame_format is not None:
        decoder = _FormatDecoder(decoder, args.frame_format)
    write = stdout.write
    flush = stdout.flush
    explain_mode: bool = args.explain
    number = 0

    def handle(line: bytes) -> bytes:
        nonlocal number
        number += 1
        hash_at = line.find(b"#")
        data = (line if hash_at < 0 else line[:hash_at]).translate(None, _SEPARATORS)
        if not data:
            return b""
        try:
            raw = binascii.unhexlify(data)
        except (binascii.Error, ValueError):
            msg = "odd number of hex digits" if len(data) % 2 else "input is not hexadecimal"
            if explain_mode:
                return f"# line {number}: error malformed: {msg}\n\n".encode()
            return dumps(error_json("malformed", msg)) + b"\n"
        if explain_mode:
            from .cli_explain import explain_one

            return explain_one(decoder, raw, f"telegram {number}", scrub).encode() + b"\n"
        return decode_line(decoder, raw, scrub) + b"\n"

    try:
        if args.telegrams:
            for text in args.telegrams:
                write(handle(text.encode("utf-8", "replace")))
                flush()
            return 0
        read1: Callable[[int], bytes] | None = getattr(stdin, "read1", None)
        if read1 is None:
            for line in stdin:
                write(handle(line))
                flush()
            return 0
        # Read what is available (one read, up to 64 KiB), answer every complete line of it in
        # order, write and flush, then wait for more input. A line typed or piped in alone is
        # answered and flushed at once, before the next read blocks; a bulk input costs one write
        # and one flush per chunk instead of per line.
        pending = b""
        while True:
            chunk = read1(65536)
            if not chunk:
                break
            lines = (pending + chunk).split(b"\n") if pending else chunk.split(b"\n")
            pending = lines.pop()
            out = b"".join([handle(line) for line in lines])
            if out:
                write(out)
                flush()
        if pending:
            write(handle(pending))
            flush()
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m omslib.cli decode [...]`` (``scripts/decode``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write("usage: python -m omslib.cli decode [--help] ...  (or: oms-decode [--help] ...)\n")
        return 0 if args else 2
    if args[0] != "decode":
        sys.stderr.write("cli: unknown command (expected 'decode')\n")
        return 2
    use_fast_table()  # bulk decoding: trade 2 MB for about 10 % speed
    try:
        return run_decode(args[1:], sys.stdin.buffer, sys.stdout.buffer, sys.stderr)
    except BrokenPipeError:
        return 0


def decode_command() -> int:
    """Console entry point ``oms-decode`` of the installed library: ``decode`` without the subcommand word."""
    return main(["decode", *sys.argv[1:]])


if __name__ == "__main__":
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)
