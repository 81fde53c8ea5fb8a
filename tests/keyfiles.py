"""Key files built in the tests: Kamstrup KEM/KEM2 (plain, encrypted, zipped), wmbusmeters, lists, XML.

The encryption is written here from the format's description (AES-128-CBC, key = IV = password
zero-padded to 16 bytes, plaintext zero-filled to whole blocks), independently of the importer.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
import io
from xml.sax.saxutils import escape
import zipfile

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


@dataclass(frozen=True)
class Meter:
    id: str
    key: bytes
    name: str = "MULTICAL 21"
    consumption: str = "ColdWater"
    manufacturer: str = "KAM"
    number: str = "4711"


def kem_xml(meters: list[Meter]) -> str:
    """A plaintext KEM document: MetersInOrder/Meter with SerialNo and DEK."""
    rows = "".join(
        "<Meter>"
        f"<MeterName>{escape(m.name)}</MeterName><ConsumptionType>{m.consumption}</ConsumptionType>"
        f"<MeterNo>{m.number}</MeterNo><SerialNo>{m.id}</SerialNo><VendorId>{m.manufacturer}</VendorId>"
        "<ConfigNo>1234</ConfigNo><TypeNo>021</TypeNo>"
        f"<DEK>{m.key.hex().upper()}</DEK>"
        "</Meter>"
        for m in meters
    )
    return f'<?xml version="1.0" encoding="utf-8"?>\r\n<MetersInOrder>{rows}</MetersInOrder>'


def kem2_xml(meters: list[Meter]) -> str:
    """A plaintext KEM2 document: Devices/Device with SerialNumber and a Name=DEK / Value pair."""
    rows = "".join(
        "<Device>"
        f"<ShortName>{escape(m.name)}</ShortName><ConsumptionTypeName>{m.consumption}</ConsumptionTypeName>"
        f"<CustomerDeviceNumber>{m.number}</CustomerDeviceNumber><SerialNumber>{m.id}</SerialNumber>"
        f"<ManufacturerId>{m.manufacturer}</ManufacturerId><ConfigNumber>1</ConfigNumber>"
        "<TypeNumber>021</TypeNumber>"
        "<Keys><Key><Name>AK</Name><Value>00000000000000000000000000000000</Value></Key>"
        f"<Key><Name>DEK</Name><Value>{m.key.hex().upper()}</Value></Key></Keys>"
        "</Device>"
        for m in meters
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<KemFile xmlns="http://www.kamstrup.com/kem2"><Devices>{rows}</Devices></KemFile>'
    )


def encrypt_kem(plaintext: str, password: str, *, zero_iv: bool = False, tail: bytes = b"") -> bytes:
    """The W3C XML-Encryption file of ``plaintext``; ``tail`` is junk after the document (like padding)."""
    key = password.encode().ljust(16, b"\0")
    data = plaintext.encode() + tail
    data += b"\0" * (-len(data) % 16)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16) if zero_iv else key)).encryptor()
    cipher = encryptor.update(data) + encryptor.finalize()
    value = base64.b64encode(cipher).decode()
    lines = "\n".join(value[i : i + 76] for i in range(0, len(value), 76))
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<EncryptedData Type="http://www.w3.org/2001/04/xmlenc#Element" '
        'xmlns="http://www.w3.org/2001/04/xmlenc#">'
        '<EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc" />'
        f"<CipherData><CipherValue>{lines}</CipherValue></CipherData></EncryptedData>"
    ).encode()


def zip_kem(name: str, data: bytes) -> bytes:
    """The ``<serial>.zip.kem`` wrapper: a zip holding the one ``.kem`` file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def wmbusmeters_file(name: str, meter_id: str, key: bytes | None, driver: str = "auto") -> str:
    return f"name={name}\nid={meter_id}\nkey={key.hex().upper() if key else 'NOKEY'}\ndriver={driver}\n"


def spaced(key: bytes, sep: str = " ") -> str:
    return sep.join(f"{b:02X}" for b in key)
