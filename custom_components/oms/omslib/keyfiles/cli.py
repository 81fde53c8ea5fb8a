"""``keys import FILE [--password P] [--show-keys]``: what a key file holds, one JSON line per meter.

Each line: ``{"id", "manufacturer", "name", "key", "source"}``; the key is ``"****"`` unless
``--show-keys`` (then 32 upper-case hex digits). Warnings (wildcards, duplicates ...) go to stderr, and
for XML of an unknown schema which fields were used for each meter.
Exit status 0 when meters were found, 2 with a one-line message for a wrong or missing password,
a file without keys, an unreadable file or a usage error.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import json
from pathlib import Path
import sys

from . import KeyFileError, import_keys

MESSAGES = {
    "wrong_password": "the file could not be decrypted with this password",
    "password_required": "the file is encrypted: give its password with --password",
    "no_keys": "the file holds no meter with an ID and a key",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keys", description="Check a meter key file before importing it.")
    commands = parser.add_subparsers(dest="command", required=True)
    importer = commands.add_parser("import", help="list the meters and keys a file holds")
    importer.add_argument(
        "file", help="key file (KEM, KEM2, .zip.kem, wmbusmeters, list, CSV, XML); - for stdin"
    )
    importer.add_argument("--password", help="password of an encrypted KEM file")
    importer.add_argument("--show-keys", action="store_true", help="print the keys instead of ****")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as err:
        print(f"keys: cannot read {args.file}: {err.strerror}", file=sys.stderr)
        return 2
    try:
        found = import_keys(data, password=args.password)
    except KeyFileError as err:
        print(f"keys: {MESSAGES.get(err.code, err.message)}", file=sys.stderr)
        for warning in err.warnings:
            print(f"keys: warning: {warning}", file=sys.stderr)
        return 2
    for item in found.keys:
        line = {
            "id": item.id,
            "manufacturer": item.manufacturer,
            "name": item.name,
            "key": item.key.hex().upper() if args.show_keys else "****",
            "source": item.source,
        }
        print(json.dumps(line, ensure_ascii=False))
        if item.source == "xml":  # an unknown schema: say which fields were taken
            print(f"keys: {item.id}: {'; '.join(item.notes)}", file=sys.stderr)
    for warning in found.warnings:
        print(f"keys: warning: {warning}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
