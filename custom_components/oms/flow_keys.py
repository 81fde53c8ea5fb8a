"""Import meter keys in bulk: a config-subentry flow of the receiver entry ("Import meter keys").

Upload a key file (or paste its text), give the password of an encrypted KEM file, see what the file
holds - ID, manufacturer, name, whether the meter was heard and whether its key opens the meter's last
telegram - and tick the meters to add. Each becomes a meter subentry with its key; a meter that is
already configured gets the new key only when it is ticked. The file is parsed by
:mod:`.omslib.keyfiles`; the uploaded copy is deleted as soon as it was read. Keys never appear in
the log, in errors or in the preview (only "key ✓").
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
from pathlib import Path
from types import MappingProxyType
from typing import Any

from homeassistant.components.file_upload import process_uploaded_file
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigSubentry,
    ConfigSubentryFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.helpers.selector import (
    FileSelector,
    FileSelectorConfig,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
)
import voluptuous as vol

from .const import (
    CONF_DEVICE_TYPE,
    CONF_KEY,
    CONF_MANUFACTURER,
    CONF_METER_ID,
    CONF_VERSION,
    DOMAIN,
    SUBENTRY_METER,
)
from .flow_fields import secret
from .hub import OmsHub, loaded_hub
from .models import HeardMeter, meter_title
from .omslib.keyfiles import (
    MAX_FILE_BYTES,
    ImportedKey,
    KeyFileError,
    KeyImport,
    NoKeysError,
    PasswordRequiredError,
    WrongPasswordError,
    import_keys,
)
from .probe import check_key

_LOGGER = logging.getLogger(__name__)

SUBENTRY_KEY_IMPORT = "key_import"
"""Subentry type whose flow imports keys; it creates meter subentries, never one of its own type."""
CONF_FILE = "file"
CONF_TEXT = "text"
CONF_METERS = "meters"
ACCEPT = ".kem,.kem2,.zip,.xml,.csv,.txt,.json,.yaml,.yml,.conf"
"""File types offered by the upload dialog (any file can still be chosen)."""
DUPLICATE_KINDS = ("duplicate", "conflict")


@dataclass(frozen=True, slots=True)
class Candidate:
    """One meter of the file as the preview shows it."""

    item: ImportedKey
    heard: HeardMeter | None
    verified: bool | None
    """True: the key opens the meter's last telegram; False: it does not; None: cannot tell."""
    configured: ConfigSubentry | None
    configured_entry: ConfigEntry | None

    def label(self) -> str:
        parts = [self.item.id, self.item.manufacturer or (self.heard.manufacturer if self.heard else "-")]
        if self.item.name:
            parts.append(self.item.name)
        if self.heard is None:
            status = "not heard"
        elif self.verified is None:
            status = "heard, not encrypted"
        else:
            status = "heard, key: ✓" if self.verified else "heard, key: ✗"
        parts.append(status)
        if self.item.source == "xml":  # an unknown schema: say which fields were taken
            parts.append("; ".join(self.item.notes))
        if self.configured is not None:
            parts.append(f"configured as {self.configured.title}: tick to replace its key")
        return " · ".join(parts)

    @property
    def preselected(self) -> bool:
        return self.configured is None and self.verified is not False


def _configured(hass: HomeAssistant) -> dict[str, tuple[ConfigEntry, ConfigSubentry]]:
    """Meter subentries of every receiver entry, by meter ID."""
    return {
        sub.data[CONF_METER_ID]: (entry, sub)
        for entry in hass.config_entries.async_entries(DOMAIN)
        for sub in entry.subentries.values()
        if sub.subentry_type == SUBENTRY_METER
    }


def _verify(heard: HeardMeter | None, key: bytes) -> bool | None:
    """Whether ``key`` opens the meter's last telegram (the add-meter step's check)."""
    if heard is None or not heard.encrypted:
        return None
    return check_key(heard.raw, key)


def _read_upload(hass: HomeAssistant, file_id: str) -> bytes:
    """The uploaded file's bytes; the uploaded copy is deleted on return (runs in the executor)."""
    with process_uploaded_file(hass, file_id) as path, Path(path).open("rb") as file:
        return file.read(MAX_FILE_BYTES + 1)  # a larger file is refused by the importer


class KeyImportSubentryFlow(ConfigSubentryFlow):
    """Upload or paste a key file, preview the meters, add the ticked ones as meter subentries."""

    def __init__(self) -> None:
        self._data: bytes | None = None
        self._file_id: str | None = None
        self._found: KeyImport | None = None
        self._candidates: dict[str, Candidate] = {}

    def _hub(self) -> OmsHub | None:
        return loaded_hub(self._get_entry())

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Upload a key file or paste its text."""
        errors: dict[str, str] = {}
        if user_input is not None:
            file_id = user_input.get(CONF_FILE)
            text = user_input.get(CONF_TEXT, "")
            try:
                if file_id and file_id != self._file_id:
                    self._data = await self.hass.async_add_executor_job(_read_upload, self.hass, file_id)
                    self._file_id = file_id
                elif not file_id:
                    self._data = text.encode() if text.strip() else None
                    self._file_id = None
            except ValueError:
                errors[CONF_FILE] = "upload_failed"
            if not errors and self._data is None:
                errors["base"] = "no_input"
            if not errors:
                error = await self._async_import(None)
                if error is None:
                    return await self.async_step_preview()
                if error == "password_required":
                    return await self.async_step_password()
                errors["base"] = error
        schema = vol.Schema(
            {
                vol.Optional(CONF_FILE): FileSelector(FileSelectorConfig(accept=ACCEPT)),
                vol.Optional(CONF_TEXT): TextSelector(TextSelectorConfig(multiline=True)),
            }
        )
        return self.async_show_form(step_id="user", data_schema=schema, errors=errors)

    async def async_step_password(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """The password of an encrypted KEM file (usually the customer number)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            error = await self._async_import(user_input.get(CONF_PASSWORD) or "")
            if error is None:
                return await self.async_step_preview()
            errors[CONF_PASSWORD] = "wrong_password" if error == "password_required" else error
        schema = vol.Schema({vol.Required(CONF_PASSWORD): secret()})
        return self.async_show_form(step_id="password", data_schema=schema, errors=errors)

    async def _async_import(self, password: str | None) -> str | None:
        """Parse the file; None when meters were found, else a translated error key."""
        assert self._data is not None
        try:
            self._found = await self.hass.async_add_executor_job(
                lambda: import_keys(self._data or b"", password=password)
            )
        except PasswordRequiredError:
            return "password_required"
        except WrongPasswordError:
            return "wrong_password"
        except NoKeysError:
            return "no_keys"
        except KeyFileError as err:
            _LOGGER.debug("Key file not read: %s", err.code)
            return "unreadable_file"
        self._build_candidates(self._found)
        _LOGGER.debug(
            "Key file (%s): %d meters, %d warnings",
            self._found.source,
            len(self._found.keys),
            len(self._found.warnings),
        )
        return None

    def _build_candidates(self, found: KeyImport) -> None:
        hub = self._hub()
        configured = _configured(self.hass)
        self._candidates = {}
        for item in found.keys:
            heard = hub.heard.get(item.id) if hub else None
            entry, sub = configured.get(item.id, (None, None))
            self._candidates[item.id] = Candidate(item, heard, _verify(heard, item.key), sub, entry)

    async def async_step_preview(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """What the file holds; tick the meters to add (or whose key to replace)."""
        found = self._found
        assert found is not None
        errors: dict[str, str] = {}
        candidates = self._candidates
        failing = [c.item.id for c in candidates.values() if c.verified is False]
        duplicates = sorted({w.subject for w in found.warnings if w.kind in DUPLICATE_KINDS})
        if user_input is not None:
            chosen = [candidates[meter_id] for meter_id in user_input.get(CONF_METERS, [])]
            if not chosen:
                errors[CONF_METERS] = "nothing_selected"
            elif any(c.verified is False for c in chosen):
                errors[CONF_METERS] = "key_not_verified"
            else:
                return self._apply(chosen)
        elif duplicates:
            errors["base"] = "duplicates_in_file"
        elif failing:
            errors["base"] = "key_not_verified"
        options = [SelectOptionDict(value=c.item.id, label=c.label()) for c in candidates.values()]
        default = [c.item.id for c in candidates.values() if c.preselected]
        schema = vol.Schema(
            {
                vol.Optional(CONF_METERS, default=default): SelectSelector(
                    SelectSelectorConfig(options=options, multiple=True, mode=SelectSelectorMode.LIST)
                )
            }
        )
        skipped = [w for w in found.warnings if w.kind not in DUPLICATE_KINDS]
        return self.async_show_form(
            step_id="preview",
            data_schema=schema,
            errors=errors,
            description_placeholders={
                "count": str(len(candidates)),
                "source": found.source,
                "heard": str(sum(c.heard is not None for c in candidates.values())),
                "verified": str(sum(c.verified is True for c in candidates.values())),
                "failing": ", ".join(failing) or "-",
                "duplicates": ", ".join(duplicates) or "-",
                "skipped": "; ".join(str(w) for w in skipped) or "-",
            },
        )

    def _apply(self, chosen: list[Candidate]) -> SubentryFlowResult:
        """Add new meters, replace the keys of configured ones; the flow ends with a summary."""
        entries = self.hass.config_entries
        entry = self._get_entry()
        added = updated = 0
        for candidate in chosen:
            item = candidate.item
            if candidate.configured is not None and candidate.configured_entry is not None:
                sub = candidate.configured
                entries.async_update_subentry(
                    candidate.configured_entry, sub, data={**sub.data, CONF_KEY: item.key.hex()}
                )
                updated += 1
                continue
            heard = candidate.heard
            data: dict[str, Any] = {CONF_METER_ID: item.id, CONF_KEY: item.key.hex()}
            if heard is not None:
                data |= {
                    CONF_MANUFACTURER: heard.manufacturer,
                    CONF_DEVICE_TYPE: heard.device_type,
                    CONF_VERSION: heard.version,
                }
            elif item.manufacturer:
                data[CONF_MANUFACTURER] = item.manufacturer
            title = item.name or meter_title(
                heard.manufacturer if heard else item.manufacturer,
                heard.medium if heard else item.medium,
                item.id,
            )
            entries.async_add_subentry(
                entry,
                ConfigSubentry(
                    data=MappingProxyType(data),
                    subentry_type=SUBENTRY_METER,
                    title=title,
                    unique_id=item.id,
                ),
            )
            added += 1
        self._data = None
        return self.async_abort(
            reason="keys_imported",
            description_placeholders={"added": str(added), "updated": str(updated)},
        )
