"""Kamstrup KEM / KEM2 key files, plain or encrypted, and the ``.zip.kem`` wrapper.

An encrypted file is W3C XML Encryption (``EncryptedData/CipherData/CipherValue``, base64) with
AES-128-CBC, where key = IV = the password's UTF-8 bytes zero-padded to 16 bytes; the plaintext has
no padding scheme and ends after its last ``>``. Some tools encrypted with a zero IV: then only the
first block decrypts wrongly, and XOR with the password block repairs it (CBC: P1 = D(C1) xor IV).

Plaintext KEM: ``MetersInOrder/Meter`` with ``SerialNo`` (the wM-Bus ID), ``DEK`` (the key),
``MeterName``, ``ConsumptionType``, ``VendorId``, ``MeterNo``, ``ConfigNo``, ``TypeNo``.
KEM2: ``Devices/Device`` with ``SerialNumber``, ``ShortName``, ``ConsumptionTypeName``,
``ManufacturerId``, ``CustomerDeviceNumber`` and the key as a ``<Name>DEK</Name><Value>..</Value>`` pair.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
import io
import re
import xml.etree.ElementTree as ET
import zipfile

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .model import (
    Collector,
    ImportedKey,
    KeyImport,
    PasswordRequiredError,
    UnreadableFileError,
    WrongPasswordError,
    child_text,
    descendants,
    local,
    medium_from_text,
    normalize_manufacturer,
    parse_xml,
)

MAX_PASSWORD_BYTES = 16
ZIP_MAGIC = b"PK\x03\x04"
MAX_ZIP_MEMBERS = 64
MAX_MEMBER_BYTES = 5_000_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def is_encrypted(root: ET.Element) -> bool:
    return local(root.tag) == "EncryptedData"


def is_plain_kem(root: ET.Element) -> bool:
    """A decrypted KEM or KEM2 document (also accepted unencrypted)."""
    return _kind(root) is not None


def _kind(root: ET.Element) -> str | None:
    if any(child_text(meter, "DEK") for meter in descendants(root, "Meter")) or local(root.tag) == (
        "MetersInOrder"
    ):
        return "kem"
    if any(child_text(device, "SerialNumber") for device in descendants(root, "Device")):
        return "kem2"
    return None


def password_key(password: str) -> bytes:
    """Key (and IV) of a KEM file: the password's UTF-8 bytes, zero-padded to 16."""
    raw = password.encode()
    if len(raw) > MAX_PASSWORD_BYTES:
        raise WrongPasswordError("the file could not be decrypted with this password (at most 16 characters)")
    return raw.ljust(16, b"\0")


def _cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def _clean(plain: bytes) -> ET.Element | None:
    """The decrypted document, cut after its last '>', control characters dropped; None if not XML."""
    end = plain.rfind(b">")
    if end < 0:
        return None
    try:
        text = plain[: end + 1].decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = _CONTROL.sub("", text).lstrip("\ufeff \t\r\n")
    if not text.startswith("<"):
        return None
    try:
        root = parse_xml(text)
    except UnreadableFileError:
        return None
    return root


def decrypt(root: ET.Element, password: str | None) -> tuple[ET.Element, list[str]]:
    """(plaintext document, notes) of an ``EncryptedData`` file; the zero-IV first block is repaired."""
    value = next((node.text for node in descendants(root, "CipherValue") if node.text), None)
    if value is None:
        raise UnreadableFileError("the encrypted file has no CipherValue")
    try:
        cipher = base64.b64decode("".join(value.split()), validate=True)
    except binascii.Error:
        raise UnreadableFileError("the CipherValue is not base64") from None
    if not cipher or len(cipher) % 16:
        raise UnreadableFileError("the CipherValue is not a whole number of AES blocks")
    if not password:
        raise PasswordRequiredError("this file is encrypted: give its password")
    key = password_key(password)
    plain = _cbc_decrypt(key, key, cipher)
    document = _clean(plain)
    if document is not None:
        return document, []
    repaired = bytes(a ^ b for a, b in zip(plain[:16], key, strict=True)) + plain[16:]
    document = _clean(repaired)
    if document is not None:
        return document, ["first block repaired (file encrypted with a zero IV)"]
    raise WrongPasswordError("the file could not be decrypted with this password")


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where a KEM format keeps one meter's facts: the meter element and its child elements."""

    meter: str
    serial: str
    manufacturer: str
    name: str
    consumption: str
    extra: tuple[str, str]
    """Two more identifiers shown as notes (meter number, type number)."""
    dek: Callable[[ET.Element], str | None]


_LAYOUTS = {
    "kem": _Layout(
        "Meter",
        "SerialNo",
        "VendorId",
        "MeterName",
        "ConsumptionType",
        ("MeterNo", "TypeNo"),
        lambda meter: child_text(meter, "DEK"),
    ),
    "kem2": _Layout(
        "Device",
        "SerialNumber",
        "ManufacturerId",
        "ShortName",
        "ConsumptionTypeName",
        ("CustomerDeviceNumber", "TypeNumber"),
        lambda device: _named_value(device, "DEK"),
    ),
}


def parse(root: ET.Element, notes: list[str] | None = None) -> KeyImport:
    """Meters of a plaintext KEM or KEM2 document."""
    kind = _kind(root) or "kem"
    layout = _LAYOUTS[kind]
    collector = Collector(kind)
    for meter in descendants(root, layout.meter):
        _add(
            collector,
            kind,
            serial=child_text(meter, layout.serial),
            key_text=layout.dek(meter),
            manufacturer=child_text(meter, layout.manufacturer),
            name=child_text(meter, layout.name),
            consumption=child_text(meter, layout.consumption),
            extra=[(label, child_text(meter, label)) for label in layout.extra],
            notes=notes or [],
        )
    return collector.result()


def _named_value(device: ET.Element, name: str) -> str | None:
    """The ``Value`` next to a ``<Name>name</Name>`` anywhere below the device."""
    for node in device.iter():
        if child_text(node, "Name") == name:
            return child_text(node, "Value")
    return None


def _add(
    collector: Collector,
    kind: str,
    *,
    serial: str | None,
    key_text: str | None,
    manufacturer: str | None,
    name: str | None,
    consumption: str | None,
    extra: list[tuple[str, str | None]],
    notes: list[str],
) -> None:
    row = collector.meter_row(
        serial,
        key_text,
        subject=serial or name or "?",
        no_id="no 8-digit SerialNo",
        no_key="no DEK",
        invalid_key="the DEK is not 32 hex digits",
    )
    if row is None:
        return
    meter_id, key, id_note = row
    row_notes = [*notes, *(f"{label} {value}" for label, value in extra if value)]
    if id_note:
        row_notes.append(id_note)
    collector.add(
        ImportedKey(
            id=meter_id,
            manufacturer=normalize_manufacturer(manufacturer),
            name=name,
            key=key,
            source=kind,
            medium=medium_from_text(consumption),
            notes=tuple(row_notes),
        )
    )


def unzip(data: bytes) -> list[tuple[str, bytes]]:
    """(name, bytes) of the files in a zip wrapper (``<serial>.zip.kem``), directories skipped."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
            if len(infos) > MAX_ZIP_MEMBERS:
                raise UnreadableFileError("the zip file holds too many files")
            members: list[tuple[str, bytes]] = []
            for info in infos:
                if info.file_size > MAX_MEMBER_BYTES:
                    raise UnreadableFileError(f"{info.filename} in the zip file is too large")
                with archive.open(info) as member:
                    members.append((info.filename, member.read(MAX_MEMBER_BYTES + 1)[:MAX_MEMBER_BYTES]))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError) as err:
        raise UnreadableFileError(f"the zip file cannot be read ({err})") from None
    return members
