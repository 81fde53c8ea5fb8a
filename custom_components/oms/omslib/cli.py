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
from collections.abc import Callable, Sequence
import sys
from typing import IO, TYPE_CHECKING, Any, NoReturn

from .crc import use_fast_table
from .jsonout import DecoderLike, Scrubber, decode_line, dumps, error_json
from .keyring import Keyring, parse_key

if TYPE_CHECKING:
    from .telegram import Telegram

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


def _make_decoder(keyring: Keyring) -> DecoderLike:
    from .decoder import Decoder

    return Decoder(keyring)


def run_decode(
    argv: Sequence[str],
    stdin: IO[bytes],
    stdout: IO[bytes],
    stderr: IO[str],
    decoder_factory: Callable[[Keyring], DecoderLike] = _make_decoder,
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
    scrub: Callable[[str], str] = Scrubber(key_bytes) if key_bytes else str
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
            from .explain import explain_one

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


def exit_with(code: int) -> NoReturn:
    """``sys.exit(code)`` after flushing stdout; a reader that went away (``| head``) is no error."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)


if __name__ == "__main__":
    exit_with(main())
