"""The decode pipeline: link -> ELL -> AFL -> TPL -> security -> APL.

:class:`Decoder` keeps what decoding needs across telegrams (keys, learnt
compact-frame formats, AFL fragments). For any byte string ``decode`` returns a
:class:`Telegram` or raises an :class:`OmsError` subclass: every other exception
would be a bug.
"""

from __future__ import annotations

from .afl import AFL_CI, Afl, FragmentBuffer, parse_afl
from .apl import Apl, msb_first_to_lsb_first, parse_apl
from .compact import FormatCache, parse_compact
from .drivers import find_driver, run_driver
from .ell import ELL_CI, Ell, open_payload, parse_ell
from .errors import (
    CrcError,
    IncompleteError,
    IntegrityError,
    LengthError,
    MalformedError,
    OmsError,
    UnsupportedError,
    WrongKeyError,
)
from .keyring import Keyring
from .link import DLL_SIZE, FrameFormat, parse_dll, strip_crcs
from .security import mode5_iv, open_mode5, open_mode7, open_mode9, unsupported_mode
from .telegram import Address, Header, Link, Telegram
from .tpl import CI_NAMES, SECURITY_MODE_NAMES, Tpl, parse_tpl
from .wired import parse_wired

_NO_ADDRESS = Address("", "", 0, 0)
_WIRED_ONLY_CI = frozenset((0x76, 0x77))
"""Legacy wired CIs (MSB-first variable data, fixed structure): in a radio frame they mean damage."""
_WIRED_UNSUPPORTED = {
    0x73: "fixed data structure",
    0x77: "fixed data structure",
}
MSB_FIRST_CI = 0x76
"""Variable data sent MSB first (EN 13757-3 §6.1, legacy): data fields big-endian."""


def _fix_wired_length(raw: bytes) -> bytes:
    """A long frame longer than its L field says, but whose last byte is the stop byte
    and whose checksum over the bytes actually between header and checksum matches, has only a
    wrong L byte (seen in pyMeterBus' test frames): rebuilt with the right L. Anything else is
    returned unchanged (and parse_wired reports it)."""
    n = len(raw)
    length = n - 6
    if (
        n >= 9
        and raw[1] + 6 < n  # longer than L says: a cut frame is never "repaired"
        and 3 <= length <= 255
        and raw[-1] == 0x16
        and sum(raw[4:-2]) & 0xFF == raw[-2]
    ):
        return bytes((0x68, length, length, 0x68)) + raw[4:]
    return raw


class Decoder:
    """Decodes telegrams with one keyring and one compact-format cache."""

    __slots__ = ("formats", "fragments", "keyring")

    def __init__(self, keyring: Keyring | None = None, formats: FormatCache | None = None) -> None:
        self.keyring = keyring if keyring is not None else Keyring()
        self.formats = formats if formats is not None else FormatCache()
        self.fragments = FragmentBuffer()

    def decode(self, raw: bytes, frame_format: FrameFormat | None = None) -> Telegram:
        """Decode one wM-Bus frame (from the L byte) or one wired long frame."""
        raw = bytes(raw)
        if raw[:1] == b"\x68" and (len(raw) < 4 or (raw[3] == 0x68 and raw[1] == raw[2])):
            return self._decode_wired(raw)  # a long frame, possibly truncated
        if raw == b"\xe5" or (len(raw) == 5 and raw[0] == 0x10 and raw[4] == 0x16):
            raise MalformedError("a wired ACK or short frame carries no telegram")
        return self._decode_wireless(raw, frame_format)

    # -- wireless ---------------------------------------------------------------

    def _decode_wireless(self, raw: bytes, frame_format: FrameFormat | None) -> Telegram:
        frame, fmt = strip_crcs(raw, frame_format)
        # Bytes after L (RSSI, or the rest of a frame whose L is too short): used only when the
        # configuration field announces more encrypted blocks than L covers (OMS.md §7).
        tail = raw[len(frame) :] if fmt == "none" else b""
        # No format given and no CRC matched: the bytes are read as a CRC-free frame, which must then
        # be complete and consistent (README "Frame formats of hex input"), else it is a damaged frame.
        guessed = frame_format is None and fmt == "none"
        dll = parse_dll(frame)
        pos = DLL_SIZE
        decrypted = False
        ell: Ell | None = None
        afl: Afl | None = None
        try:
            if pos >= len(frame):
                raise LengthError("frame ends before the CI field")
            if frame[pos] in ELL_CI:
                ell = parse_ell(frame, pos)
                key = self.keyring.key_for(dll.address.id) if ell.payload_crc_offset is not None else None
                frame, decrypted = open_payload(frame, ell, dll.address_bytes, key)
                pos = ell.payload_offset if ell.payload_crc_offset is None else ell.payload_crc_offset
                if pos >= len(frame):
                    header = Header(
                        "wmbus",
                        dll.c_field,
                        dll.address,
                        dll.address,
                        ell.ci,
                        access_number=ell.acc,
                        receiver_address=ell.receiver_address,
                    )
                    return Telegram(header, (), decrypted=decrypted)
            if frame[pos] == AFL_CI:
                if guessed and tail:  # never store a fragment of a damaged frame
                    raise CrcError("the frame's CRCs do not match and it has bytes after its L+1")
                afl = parse_afl(frame, pos)
                whole = self.fragments.add(dll.address_bytes, afl, frame[afl.payload_offset :])
                if whole is None:
                    raise IncompleteError(f"AFL fragment {afl.fragment_id} stored, waiting for the rest")
                afl, tpdu = whole
                pos = afl.payload_offset
                frame = frame[:pos] + tpdu
                if pos >= len(frame):
                    raise LengthError("AFL without a transport layer")
            if frame[pos] in _WIRED_ONLY_CI:
                raise MalformedError(f"CI 0x{frame[pos]:02X} belongs to wired M-Bus, not to a radio frame")
            tpl = parse_tpl(frame, pos)
        except OmsError as err:
            link_header = Header("wmbus", dll.c_field, dll.address, dll.address, 0)
            if guessed and tail and isinstance(err, LengthError | MalformedError):
                err = _not_crc_free(err)
            raise err.with_header(link_header) from None
        config = tpl.config
        mode = config.mode if config else 0
        acc = tpl.access_number
        header = Header(
            "wmbus",
            dll.c_field,
            tpl.address or dll.address,
            dll.address,
            tpl.ci,
            acc if acc is not None else (ell.acc if ell else None),
            tpl.status,
            mode,
            decrypted or bool(mode),
            ell.receiver_address if ell else None,
            None,
        )
        try:
            tpdu = frame[pos:]
            if afl is not None and afl.message_length is not None and afl.message_length < len(tpdu):
                tpdu = tpdu[: afl.message_length]
            iv_address = tpl.address_bytes or dll.address_bytes
            id_bytes = tpl.id_bytes or dll.address_bytes[2:6]
            if tail and config and mode == 5:
                short = config.blocks * 16 - (len(frame) - tpl.payload_offset)
                if 0 < short <= len(tail) and not (guessed and short < len(tail)):
                    frame += tail[:short]
                    tail = b""
            if guessed and tail:
                raise CrcError(
                    f"the frame's CRCs do not match and it is no CRC-free frame either"
                    f" ({len(tail)} bytes after the L+1 = {len(frame)} bytes its L field covers)"
                )
            return self._finish(header, tpl, frame, tpdu, pos, iv_address, id_bytes, afl, decrypted, guessed)
        except OmsError as err:
            raise err.with_header(header) from None

    # -- wired ------------------------------------------------------------------

    def _decode_wired(self, raw: bytes) -> Telegram:
        wf = parse_wired(_fix_wired_length(raw))
        assert wf.ci is not None
        frame = bytes((wf.ci,)) + wf.data
        link_header = Header("mbus", wf.c_field, _NO_ADDRESS, None, wf.ci, primary_address=wf.address)
        if wf.ci in _WIRED_UNSUPPORTED:
            name = _WIRED_UNSUPPORTED[wf.ci]
            raise UnsupportedError(f"wired {name} (CI 0x{wf.ci:02X}) is not supported", header=link_header)
        try:
            tpl = parse_tpl(frame, 0)
        except OmsError as err:
            raise err.with_header(link_header) from None
        mode = tpl.config.mode if tpl.config else 0
        if mode not in SECURITY_MODE_NAMES:
            # Wired frames before EN 13757-3:2013 carry a 2-byte "signature" here, not a configuration
            # field; some meters put non-zero values in it (libmbus test frames). A value whose mode
            # bits name no security mode at all is taken as such a legacy signature: plain data.
            mode = 0
        header = Header(
            "mbus",
            wf.c_field,
            tpl.address or _NO_ADDRESS,
            None,
            tpl.ci,
            access_number=tpl.access_number,
            status=tpl.status,
            security_mode=mode,
            encrypted=bool(mode),
            primary_address=wf.address,
        )
        try:
            return self._finish(header, tpl, frame, frame, 0, tpl.address_bytes, tpl.id_bytes, None, False)
        except OmsError as err:
            raise err.with_header(header) from None

    # -- shared -----------------------------------------------------------------

    def _finish(
        self,
        header: Header,
        tpl: Tpl,
        frame: bytes,
        tpdu: bytes,
        tpl_offset: int,
        iv_address: bytes,
        id_bytes: bytes,
        afl: Afl | None,
        decrypted: bool,
        guessed: bool = False,
        driver: bool = True,
    ) -> Telegram:
        """The security layer and the records, through a manufacturer driver when one knows this
        meter (drivers/; ``driver`` False: the OMS decoding alone, which the driver builds on).
        ``decrypted`` True: ELL AES-CTR opened the frame. ``guessed``: a CRC-free reading of a frame
        whose CRCs did not check out; it must be complete."""
        if driver and (found := find_driver(header, frame, tpl_offset)) is not None:
            return run_driver(
                found,
                header,
                frame,
                tpl_offset,
                tpl.payload_offset,
                lambda: self._finish(
                    header, tpl, frame, tpdu, tpl_offset, iv_address, id_bytes, afl, decrypted, guessed, False
                ),
                self.keyring.key_for(header.address.id),
                lambda key: Decoder(Keyring({}, default=key)).decode(frame),
            )
        ell_decrypted = decrypted
        encrypted_length = 0
        kind = tpl.payload
        if kind == "unsupported":
            if ell_decrypted and tpl.ci not in CI_NAMES:
                # the ELL payload CRC is 16 bits: a wrong key passes it about once in 32,768 tries
                raise WrongKeyError(f"AES-CTR plaintext starts with the unknown CI 0x{tpl.ci:02X}: wrong key")
            name = CI_NAMES.get(tpl.ci, "unknown CI")
            raise UnsupportedError(f"CI 0x{tpl.ci:02X} ({name}) is not supported")
        payload = frame[tpl.payload_offset :]
        if afl is not None and afl.message_length is not None:
            payload = frame[tpl.payload_offset : tpl_offset + len(tpdu)]
        authenticated = False
        mode = header.security_mode
        if mode and kind not in ("none", "manufacturer"):
            assert tpl.config is not None
            key = self.keyring.key_for(header.address.id)
            if mode == 5:
                if tpl.access_number is None:
                    raise MalformedError("mode 5 needs a short or long transport header")
                payload, did = open_mode5(payload, tpl.config, mode5_iv(iv_address, tpl.access_number), key)
                if did:
                    encrypted_length = tpl.config.blocks * 16
                decrypted = decrypted or did
            elif mode == 7:
                payload = open_mode7(payload, tpl.config, afl, tpdu, id_bytes, key)
                decrypted = authenticated = key is not None
            elif mode == 9:
                aad = frame[tpl_offset : tpl.payload_offset]
                payload = open_mode9(payload, afl, iv_address, aad, key)
                decrypted = authenticated = True
            else:
                raise unsupported_mode(mode)
        if kind == "manufacturer":
            return Telegram(header, (), decrypted, authenticated, manufacturer_data=frame[tpl_offset + 1 :])
        if kind in ("none", "error", "alarm"):
            return Telegram(header, (), decrypted, authenticated, manufacturer_data=payload)
        address = header.address
        prefix = (address.manufacturer, address.version, address.device_type)
        if kind == "format":
            signature = self.formats.learn_format_frame(prefix, payload)
            return Telegram(header, (), decrypted, authenticated, format_signature=signature)
        apl: Apl
        if kind == "compact":
            if mode and payload[:2] == b"\x2f\x2f":
                payload = payload[2:]  # the 2F2F check bytes of the decrypted payload
            apl = parse_compact(payload, prefix, self.formats)
            protected = len(apl.records) if encrypted_length >= len(payload) + 2 else 0
        else:
            # A last record cut by the end of the APL (the frame itself is complete: its length was
            # checked) is a meter quirk: keep the records before it, note where it was dropped.
            if tpl.ci == MSB_FIRST_CI:
                payload = msb_first_to_lsb_first(payload)
            if encrypted_length and not ell_decrypted:
                apl, protected = _mode5_apl(payload, encrypted_length, not guessed)
            else:
                try:
                    apl = parse_apl(payload, partial=not guessed)
                except LengthError as err:
                    if not guessed:
                        raise
                    raise _not_crc_free(err) from None
                protected = 0
            if apl.truncated is None and self.formats.get(prefix, apl.signature) is None:
                self.formats.learn(prefix, apl)
        tg = Telegram(
            header,
            apl.records,
            decrypted,
            authenticated,
            apl.more_records_follow,
            apl.manufacturer_data,
            apl.signature,
            {},
            len(apl.records) if ell_decrypted or authenticated else protected,
        )
        if apl.truncated is not None:
            tg.extra["truncated"] = apl.truncated
        if authenticated:
            # The MAC-protected message counter: receivers use it against replays (OMS Vol2 §9.6.2).
            config = tpl.config
            counter = config.counter if config is not None and config.counter is not None else None
            if counter is None and afl is not None:
                counter = afl.counter
            if counter is not None:
                tg.extra["message_counter"] = counter
        return tg


def _not_crc_free(err: OmsError) -> CrcError:
    """The error for a frame whose CRCs failed and whose CRC-free reading is incomplete."""
    return CrcError(f"the frame's CRCs do not match and it is no complete CRC-free frame ({err.message})")


def _mode5_apl(payload: bytes, encrypted: int, partial: bool) -> tuple[Apl, int]:
    """The records of a decrypted mode-5 payload, and how many of them lie in its encrypted blocks.

    Mode 5 has no MAC (EN 13757-7 §9.4.3), so the plaintext is checked instead: inside the
    ``encrypted`` bytes every record must be complete and valid, and only 2F fill (EN 13757-3
    §6.3.3) may follow the last one; DIF 0F/1F may end the records there. Records after the
    encrypted blocks (partial encryption) are decoded as usual but not counted.
    """
    whole = encrypted >= len(payload)
    try:
        inner = parse_apl(payload if whole else payload[:encrypted])
    except (LengthError, MalformedError) as err:
        raise IntegrityError(f"decrypted mode 5 data is no valid record list: {err.message}") from None
    if inner.fill.strip(b"\x2f"):
        raise IntegrityError("decrypted mode 5 data: bytes other than 2F fill follow the last record")
    if whole:
        return inner, len(inner.records)
    return parse_apl(payload, partial=partial), len(inner.records)


_DEFAULT = Decoder()


def decode(raw: bytes, keyring: Keyring | None = None) -> Telegram:
    """Decode one telegram statelessly (no compact-format memory across calls)."""
    if keyring is None:
        return Decoder().decode(raw)
    return Decoder(keyring).decode(raw)


__all__ = ["Decoder", "Link", "decode"]
