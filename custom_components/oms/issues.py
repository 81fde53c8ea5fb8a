"""Repair issues of a receiver entry's meters: telegrams it cannot decrypt, a total that went back.

Neither is fixable here: the user gives the right key in the meter's reconfigure step, or checks
the replaced or reset meter. :class:`~.hub.OmsHub` raises them (and clears the decryption issue
when the meter's telegrams decrypt again or the meter is removed).
"""

from __future__ import annotations

import logging

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN
from .models import MeterState
from .omslib.record import Record
from .omslib.trust import RESYNC_TELEGRAMS

_LOGGER = logging.getLogger(__name__)


def issue_id(entry_id: str, meter_id: str) -> str:
    """Repair issue ID for a meter whose telegrams cannot be decrypted."""
    return f"decryption_{entry_id}_{meter_id}"


def shell_command_issue_id(entry_id: str) -> str:
    """Repair issue ID for a receiver whose device is a shell command (set up before they were refused)."""
    return f"shell_command_{entry_id}"


@callback
def async_shell_command_issue(hass: HomeAssistant, entry_id: str, receiver: str, *, runs_shell: bool) -> None:
    """Tell the user to reconfigure a receiver that runs a shell command (it keeps running); else clear it."""
    if not runs_shell:
        ir.async_delete_issue(hass, DOMAIN, shell_command_issue_id(entry_id))
        return
    _LOGGER.warning("Receiver %s runs a shell command: reconfigure it with its SDR settings", receiver)
    ir.async_create_issue(
        hass,
        DOMAIN,
        shell_command_issue_id(entry_id),
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="shell_command",
        translation_placeholders={"receiver": receiver},
    )


def backwards_issue_id(entry_id: str, meter_id: str) -> str:
    """Repair issue ID for a meter whose total went backwards (replaced or reset)."""
    return f"backwards_{entry_id}_{meter_id}"


@callback
def async_decryption_issue(
    hass: HomeAssistant, entry_id: str, receiver: str, meter: MeterState, code: str
) -> None:
    """The meter's telegrams failed to decrypt several times (``code``: no_key, wrong_key …)."""
    _LOGGER.warning("Meter %s (%s): cannot decrypt its telegrams (%s)", meter.name, meter.meter_id, code)
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id(entry_id, meter.meter_id),
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=f"decryption_{code}",
        translation_placeholders={"meter": meter.name, "meter_id": meter.meter_id, "receiver": receiver},
    )


@callback
def async_clear_decryption_issue(hass: HomeAssistant, entry_id: str, meter_id: str) -> None:
    ir.async_delete_issue(hass, DOMAIN, issue_id(entry_id, meter_id))


@callback
def async_backwards_issue(
    hass: HomeAssistant, entry_id: str, meter: MeterState, record: Record, previous: float
) -> None:
    """A lower total confirmed by several telegrams was taken: the user is told."""
    _LOGGER.warning(
        "Meter %s (%s): its %s went back from %s to %s %s in %d telegrams in a row; taken as the "
        "new total (replaced or reset meter?)",
        meter.name,
        meter.meter_id,
        record.quantity,
        previous,
        record.value,
        record.unit or "",
        RESYNC_TELEGRAMS,
    )
    ir.async_create_issue(
        hass,
        DOMAIN,
        backwards_issue_id(entry_id, meter.meter_id),
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="total_backwards",
        translation_placeholders={
            "meter": meter.name,
            "meter_id": meter.meter_id,
            "previous": f"{previous:g} {record.unit or ''}".strip(),
            "value": f"{record.value!s} {record.unit or ''}".strip(),
        },
    )
