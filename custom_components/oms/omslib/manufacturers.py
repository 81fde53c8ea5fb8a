"""Manufacturer names for the three-letter codes of EN 13757-7 §7.5.2 (FLAG association list).

The M field of a telegram carries a code the FLAG association allocates ("KAM", "QDS", …); a
homeowner knows the company. This table holds the codes common on metering radio and wired
M-Bus as data: ``code -> (brand, company)``, the brand being the short name people say
("Kamstrup") and the company the name in the FLAG list (legal form kept where it tells
companies apart). Codes missing here are shown as they are.
"""

from __future__ import annotations

MANUFACTURERS: dict[str, tuple[str, str]] = {
    "AAA": ("Aventies", "Aventies GmbH"),
    "ABB": ("ABB", "ABB AB"),
    "ACE": ("Actaris", "Actaris (electricity)"),
    "ACG": ("Actaris", "Actaris (gas)"),
    "ACW": ("Actaris", "Actaris (water and heat)"),
    "AEG": ("AEG", "AEG"),
    "AMB": ("Amber wireless", "Amber wireless GmbH"),
    "AMT": ("Aquametro", "Aquametro AG"),
    "AMX": ("Apator Metrix", "Apator Metrix SA"),
    "APA": ("Apator", "Apator Powogaz SA"),
    "APT": ("Apator", "Apator SA"),
    "AQM": ("Aquametro", "Aquametro AG"),
    "AXI": ("Axis Industries", "UAB Axis Industries"),
    "BFW": ("BFW", "BFW Büro für Wärmemesstechnik OHG"),
    "BHG": ("Brunata", "Brunata A/S"),
    "BMI": ("Badger Meter", "Badger Meter Inc."),
    "BMP": ("BMETERS", "BMETERS Polska Sp. z o.o."),
    "BMT": ("BMETERS", "BMETERS srl"),
    "BRA": ("Brandes", "Brandes GmbH"),
    "BUR": ("Bopp & Reuther", "Bopp und Reuther Messtechnik GmbH"),
    "BYL": ("Baylan", "Baylan"),
    "CLO": ("Clorius", "Clorius Raab Karcher Energi Service A/S"),
    "DEV": ("Develco", "Develco Products"),
    "DFS": ("Danfoss", "Danfoss A/S"),
    "DGM": ("Diehl", "Diehl Gas Metering GmbH"),
    "DME": ("Diehl", "Diehl Metering GmbH"),
    "DWZ": ("Lorenz", "Lorenz GmbH & Co. KG"),
    "DZG": ("DZG", "DZG Metering GmbH"),
    "EBZ": ("eBZ", "eBZ GmbH"),
    "EFE": ("Engelmann", "Engelmann Sensor GmbH"),
    "EGM": ("Elgama", "Elgama-Elektronika Ltd"),
    "EIE": ("Ei Electronics", "Ei Electronics"),
    "ELR": ("Elster", "Elster Metering Limited"),
    "ELS": ("Elster", "Elster GmbH"),
    "ELT": ("Eltako", "ELTAKO GmbH"),
    "ELV": ("Elvaco", "Elvaco AB"),
    "EMH": ("EMH", "EMH metering GmbH & Co. KG"),
    "EMU": ("EMU", "EMU Elektronik AG"),
    "ENG": ("Switch2", "ENER-G Switch2 Ltd"),
    "ESY": ("EasyMeter", "EasyMeter GmbH"),
    "FIO": ("Pietro Fiorentini", "Pietro Fiorentini"),
    "FLO": ("Flonidan", "Flonidan A/S"),
    "GAV": ("Carlo Gavazzi", "Carlo Gavazzi Controls S.p.A."),
    "GSS": ("Gran-System-S", "R&D Gran-System-S LLC"),
    "GWF": ("GWF", "Gas- und Wassermesserfabrik Luzern"),
    "HAG": ("Hager", "Hager Electro GmbH"),
    "HON": ("Honeywell", "Honeywell Technologies Sarl"),
    "HYD": ("Hydrometer", "Hydrometer GmbH"),
    "HYG": ("Hydrometer", "Hydrometer Group"),
    "INE": ("INNOTAS", "INNOTAS Elektronik GmbH"),
    "INT": ("Infranet", "Infranet Technologies GmbH"),
    "ISK": ("Iskraemeco", "Iskraemeco"),
    "IST": ("ista", "ista"),
    "ITE": ("Itron", "Itron (electricity)"),
    "ITG": ("Itron", "Itron (gas)"),
    "ITR": ("Itron", "Itron Inc."),
    "ITW": ("Itron", "Itron (water)"),
    "JAN": ("Janitza", "Janitza electronics GmbH"),
    "KAM": ("Kamstrup", "Kamstrup Energi A/S"),
    "KAW": ("Kamstrup", "Kamstrup A/S"),
    "LAS": ("Lansen", "Lansen Systems AB"),
    "LGB": ("Landis+Gyr", "Landis+Gyr Ltd."),
    "LGZ": ("Landis+Gyr", "Landis+Gyr AG"),
    "LSE": ("Landis & Staefa", "Landis & Staefa electronic"),
    "LUG": ("Landis+Gyr", "Landis+Gyr GmbH"),
    "MAD": ("Maddalena", "Maddalena S.p.A."),
    "MEI": ("Sensus", "Sensus Metering Systems"),
    "MWU": ("Metrona", "METRONA Wärmemesser Union GmbH"),
    "NZR": ("NZR", "Nordwestdeutsche Zählerrevision Ing. Aug. Knemeyer GmbH & Co. KG"),
    "PII": ("PiiGAB", "PiiGAB Processinformation i Göteborg AB"),
    "PIK": ("pikkerton", "pikkerton GmbH"),
    "PMG": ("Sensus", "Sensus Metering Systems"),
    "QDS": ("Qundis", "Qundis GmbH"),
    "RAM": ("Rossweiner", "Rossweiner Armaturen und Messgeräte GmbH & Co. OHG"),
    "REL": ("Relay", "Relay GmbH"),
    "RKE": ("ista", "Viterra Energy Services (formerly Raab Karcher ES)"),
    "SAP": ("Sappel", "Sappel"),
    "SEC": ("Schneider Electric", "Schneider Electric Canada"),
    "SEN": ("Sensus", "Sensus Metering Systems"),
    "SIE": ("Siemens", "Siemens AG"),
    "SLB": ("Schlumberger", "Schlumberger Industries Ltd."),
    "SON": ("Sontex", "Sontex SA"),
    "SPL": ("Sappel", "Sappel"),
    "SPX": ("Sensus", "Sensus Metering Systems"),
    "SVM": ("SVM", "AB Svensk Värmemätning SVM"),
    "TCH": ("Techem", "Techem Service AG & Co. KG"),
    "VES": ("ista", "Viterra Energy Services"),
    "WEH": ("Wehrle", "E. Wehrle GmbH"),
    "WEP": ("Weptech", "Weptech elektronik GmbH"),
    "WTT": ("Watertech", "Watertech S.p.A."),
    "WZG": ("Neumann & Co.", "Neumann & Co. Wasserzähler Glaubitz GmbH"),
    "ZEN": ("ZenMeter", "ZenMeter Solutions Pvt. Ltd."),
    "ZRI": ("Zenner", "ZENNER International GmbH & Co. KG"),
    "ZRM": ("Zenner", "ZENNER International GmbH & Co. KG"),
}
"""FLAG code -> (brand, company name)."""


def manufacturer_name(code: str | None) -> str | None:
    """The company behind a FLAG code ("QDS" -> "Qundis GmbH"); the code itself when unknown.

    None for no code, or for a field that spells no letters ("@@@": the manufacturer field 0, as
    TPL-first LoRaWAN meters mapped without a manufacturer have).
    """
    if not code or not code.isalpha():
        return None
    entry = MANUFACTURERS.get(code.upper())
    return entry[1] if entry else code


def manufacturer_brand(code: str | None) -> str | None:
    """The short name of a FLAG code's company ("QDS" -> "Qundis"); the code itself when unknown.

    None for no code, or for a field that spells no letters ("@@@": the manufacturer field 0, as
    TPL-first LoRaWAN meters mapped without a manufacturer have).
    """
    if not code or not code.isalpha():
        return None
    entry = MANUFACTURERS.get(code.upper())
    return entry[0] if entry else code
