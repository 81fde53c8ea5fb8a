#!/usr/bin/env python3
"""Mode-5 mutation sweep (issue 10): how many damaged or tampered mode-5 telegrams still decode, with
their key, to *different protected records*.

Mode 5 (AES-128-CBC, EN 13757-7 §9.4.3) has no MAC; the decoder checks the plaintext's structure
instead. The sweep takes distinct mode-5 telegrams (the corpus' keyed ones plus telegrams built with
``tests/encoder.py`` carrying changing values), mutates each, decodes the mutant as a stick delivers it
(``frame_format="none"``) and counts a mutant as *accepted* when it decodes ``ok`` and the records it
reports as protected (the first ``Telegram.encrypted_records``) differ from the genuine telegram's.
Records outside the encrypted blocks (``encrypted: false``) do not count.

Also reported: how many accepted mutants keep the meter's identity (M, ID, version, type) *and* its
record layout (``Telegram.format_signature``, the DIB/VIB sequence); a consumer that holds a keyed
meter's telegram with an identity or layout it has not seen from that meter (until a second telegram
confirms it) is left with only these.

Payload mutations: ciphertext bit flips, changed ciphertext bytes, bytes appended (L adjusted or
not), truncations (L adjusted or not). Header mutations (bit flips in M, ID, version, device type,
ACC, status and configuration field) change the IV or N and are reported apart: a flipped version or
device-type bit flips the same bit of the first plaintext block, which no decoder can notice; the hub's
identity learnt from the first decrypted telegram rejects those.

    .venv/bin/python scripts/bench_mode5.py [--telegrams 300] [--seed 1]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
import json
from pathlib import Path
import random
import sys

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT))

from custom_components.oms.omslib.decoder import Decoder  # noqa: E402
from custom_components.oms.omslib.errors import OmsError  # noqa: E402
from custom_components.oms.omslib.keyring import Keyring  # noqa: E402
from custom_components.oms.omslib.telegram import Telegram  # noqa: E402
from tests import encoder as enc  # noqa: E402

TARGET_PAYLOAD = 0.05
_HEADER_SIZE = {0x7A: 4, 0x72: 12}
"""TPL header bytes after the CI for the short and long header."""


def _corpus_pairs() -> list[tuple[bytes, bytes]]:
    pairs: list[tuple[bytes, bytes]] = []
    for name, frame_key, key_key in (
        ("wmbusmeters-tests.jsonl", "telegram", "key"),
        ("oms-vectors.jsonl", "frame_hex", "key_hex"),
    ):
        path = CORPUS / name
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else {}
            text, key = row.get(frame_key), row.get(key_key)
            if "scope" in row or not isinstance(text, str) or not isinstance(key, str) or len(key) != 32:
                continue
            if len(text) % 2 == 0 and not text.startswith("68"):
                pairs.append((bytes.fromhex(text), bytes.fromhex(key)))
    return pairs


def _built_pairs(count: int, rnd: random.Random) -> list[tuple[bytes, bytes]]:
    """Mode-5 telegrams with changing values: volume, energy, flow, temperatures, date, error flags."""
    out = []
    for i in range(count):
        records = [
            enc.record(0x4, enc.vib(0x13), enc.int_bytes(rnd.randrange(10**7), 4)),
            enc.record(0xC, enc.vib(0x06), enc.bcd_bytes(rnd.randrange(10**8), 8)),
            enc.record(0x2, enc.vib(0x5B), enc.int_bytes(rnd.randrange(5, 90), 2)),
            enc.record(0x2, enc.vib(0x5F), enc.int_bytes(rnd.randrange(5, 60), 2)),
            enc.record(0x4, enc.vib(0x3B), enc.int_bytes(rnd.randrange(2000), 4)),
            enc.record(0x2, enc.vib(0x6C), enc.date_g(2020 + rnd.randrange(10), 1 + rnd.randrange(12), 1)),
            enc.record(0x44, enc.vib(0x13), enc.int_bytes(rnd.randrange(10**7), 4)),
            enc.record(0x1, enc.vib(0x17, table=0xFD), enc.int_bytes(rnd.randrange(4), 1, signed=False)),
        ]
        rnd.shuffle(records)
        meter = enc.Addr(
            "ABC", f"{rnd.randrange(10**8):08d}", rnd.randrange(256), rnd.choice((4, 6, 7, 0x16))
        )
        key = rnd.randbytes(16)
        spec = enc.TelegramSpec(
            records=records[: 2 + i % 7],
            meter=meter,
            tpl=rnd.choice(("short", "long")),
            acc=rnd.randrange(256),
            status=rnd.choice((0, 0, 0x04, 0x10)),
            mode=5,
            key=key,
            link=enc.Addr("DEF", f"{rnd.randrange(10**8):08d}", 1, 0x37),
        )
        if spec.tpl == "short":
            spec.link = None
        out.append((enc.build(spec), key))
    return out


def _protected(tg: Telegram) -> tuple[object, ...]:
    count = getattr(tg, "encrypted_records", None)  # None: a decoder before issue 10 (for comparison)
    return tg.records[: (len(tg.records) if tg.decrypted else 0) if count is None else count]


def _mutants(raw: bytes, start: int, end: int, rnd: random.Random) -> Iterator[tuple[str, bytes]]:
    """(kind, mutant) of one stripped mode-5 frame whose ciphertext is ``raw[start:end]``."""

    def fix_l(data: bytes) -> bytes:
        return bytes(((len(data) - 1) & 0xFF,)) + data[1:]

    size = end - start
    for _ in range(48):  # ciphertext bit flips
        pos = start + rnd.randrange(size)
        data = bytearray(raw)
        data[pos] ^= 1 << rnd.randrange(8)
        yield "payload", bytes(data)
    for _ in range(16):  # changed ciphertext bytes
        pos = start + rnd.randrange(size)
        data = bytearray(raw)
        data[pos] = (data[pos] + 1 + rnd.randrange(255)) & 0xFF
        yield "payload", bytes(data)
    for _ in range(8):  # appended bytes, L adjusted or not
        extra = rnd.randbytes(rnd.choice((1, 2, 6, 16, 16)))
        yield "payload", fix_l(raw + extra)
        yield "payload", raw + extra
    for _ in range(8):  # truncations, L adjusted or not
        cut = raw[: start + rnd.randrange(size)]
        yield "payload", fix_l(cut)
        yield "payload", cut
    for pos in range(2, start):  # header bits: M ID Ver Type (IV), CI, ACC ST CF (and long-header address)
        if pos in (10,):  # the CI: another layer entirely, counted by the general fuzz
            continue
        for bit in range(8):
            data = bytearray(raw)
            data[pos] ^= 1 << bit
            yield "header", bytes(data)


def sweep(n_built: int, seed: int) -> dict[str, list[int]]:
    """{kind: [mutants, accepted with changed protected records, decoded ok, accepted and with the
    genuine identity and record layout]}; also prints a summary."""
    rnd = random.Random(seed)
    telegrams: list[tuple[bytes, bytes, Telegram]] = []
    seen: set[bytes] = set()
    for raw, key in _corpus_pairs() + _built_pairs(n_built, rnd):
        if raw in seen or len(raw) < 12 or raw[10] not in _HEADER_SIZE:
            continue
        try:
            tg = Decoder(Keyring(default=key)).decode(raw, "none")
        except OmsError:
            continue
        if tg.header.security_mode != 5 or not tg.decrypted or not _protected(tg):
            continue
        seen.add(raw)
        telegrams.append((raw, key, tg))
    counts: dict[str, list[int]] = {"payload": [0, 0, 0, 0], "header": [0, 0, 0, 0]}
    for raw, key, genuine in telegrams:
        start = 11 + _HEADER_SIZE[raw[10]]
        end = min(raw[0] + 1, start + 16 * ((raw[start - 2] >> 4) & 0x0F))
        ids = {genuine.header.address.id: key}  # keys by meter ID, as configured: an ID flip finds none
        if genuine.header.link_address is not None:
            ids[genuine.header.link_address.id] = key
        keyring = Keyring(ids)
        for kind, mutant in _mutants(raw[: raw[0] + 1], start, end, rnd):
            row = counts[kind]
            row[0] += 1
            try:
                tg = Decoder(keyring).decode(mutant, "none")  # type: ignore[arg-type]
            except OmsError:
                continue
            row[2] += 1
            if _protected(tg) != _protected(genuine):
                row[1] += 1
                if tg.address == genuine.address and tg.format_signature == genuine.format_signature:
                    row[3] += 1
    print(f"mode-5 sweep: {len(telegrams)} distinct keyed mode-5 telegrams (seed {seed})")
    for kind, (total, accepted, ok, same) in counts.items():
        print(
            f"  {kind:8} mutations {total:7,}: accepted with changed protected records {accepted:6,}"
            f" = {accepted / max(total, 1):.2%} (decoded ok at all: {ok:,}); of these with the meter's"
            f" identity and record layout (format signature) unchanged: {same:,} = {same / max(total, 1):.2%}"
        )
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--telegrams", type=int, default=300, help="encoder-built telegrams besides the corpus"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    counts = sweep(args.telegrams, args.seed)
    total, accepted, _, _ = counts["payload"]
    return 0 if accepted <= TARGET_PAYLOAD * total else 1


if __name__ == "__main__":
    sys.exit(main())
