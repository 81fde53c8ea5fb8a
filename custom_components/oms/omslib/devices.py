"""Device type (medium) names, EN 13757-7 Table 12 / OMS Vol2 Table 2. Table as data."""

from __future__ import annotations

DEVICE_TYPES: dict[int, str] = {
    0x00: "other",
    0x01: "oil",
    0x02: "electricity",
    0x03: "gas",
    0x04: "heat",
    0x05: "steam",
    0x06: "warm_water",
    0x07: "water",
    0x08: "heat_cost_allocator",
    0x09: "compressed_air",
    0x0A: "cooling_load_outlet",
    0x0B: "cooling_load_inlet",
    0x0C: "heat_inlet",
    0x0D: "heat_cooling_load",
    0x0E: "bus_system_component",
    0x0F: "unknown",
    0x14: "calorific_value",
    0x15: "hot_water",
    0x16: "cold_water",
    0x17: "dual_register_water",
    0x18: "pressure",
    0x19: "ad_converter",
    0x1A: "smoke_detector",
    0x1B: "room_sensor",
    0x1C: "gas_detector",
    0x20: "breaker",
    0x21: "valve",
    0x25: "customer_unit",
    0x28: "waste_water",
    0x29: "garbage",
    0x2A: "co2",
    0x31: "communication_controller",
    0x32: "unidirectional_repeater",
    0x33: "bidirectional_repeater",
    0x36: "radio_converter_system",
    0x37: "radio_converter_meter",
    0x38: "wired_adapter",
    0xFF: "invalid",
}


def device_type_name(code: int) -> str:
    """Name of a device-type code; "reserved" for codes the standard leaves open."""
    return DEVICE_TYPES.get(code, "reserved")
