"""scripts/provision.py without a running Home Assistant: history rows, statistics metadata, the port."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import sys

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import provision  # noqa: E402


def test_history_ends_where_the_recorder_starts() -> None:
    """Issue 15 item 1: last row sum 0 at today's reading; rising before, by each hour's use."""
    starts = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=i) for i in range(4)]
    rows = provision.history_rows(100.0, [1.0, 2.0, 0.5, 1.5], starts)
    assert [r["sum"] for r in rows] == [-4.0, -2.0, -1.5, 0.0]
    assert [r["state"] for r in rows] == [96.0, 98.0, 98.5, 100.0]
    assert rows[0]["start"] == "2026-01-01T00:00:00+00:00"


def test_statistics_metadata_old_and_new() -> None:
    """Issue 15 item 13: mean_type and unit_class only for a Home Assistant that takes them."""
    new = provision.statistics_metadata("sensor.gas", "Gas", "m³", modern=True)
    assert (new["mean_type"], new["unit_class"], new["has_sum"]) == (0, "volume", True)
    assert provision.statistics_metadata("sensor.e", None, "kWh", modern=True)["unit_class"] == "energy"
    old = provision.statistics_metadata("sensor.gas", "Gas", "m³", modern=False)
    assert "mean_type" not in old
    assert "unit_class" not in old


class _Api:
    """Answers recorder/import_statistics like Home Assistant 2025.4 (no mean_type) or 2026.11."""

    def __init__(self, *, modern: bool) -> None:
        self.modern = modern
        self.statistics_modern: bool | None = None
        self.calls: list[dict[str, object]] = []

    async def ws(self, msg_type: str, **payload: object) -> None:
        metadata = payload["metadata"]
        assert isinstance(metadata, dict)
        self.calls.append(metadata)
        if not self.modern and "mean_type" in metadata:
            raise provision.ProvisionError(
                f"{msg_type}: extra keys not allowed @ data['metadata']['mean_type']"
            )


@pytest.mark.parametrize("modern", [True, False])
async def test_import_detects_what_home_assistant_takes(modern: bool) -> None:
    api = _Api(modern=modern)
    for _ in range(2):
        await provision.import_statistics(api, "sensor.x", "X", "kWh", [])  # type: ignore[arg-type]
    assert api.statistics_modern is modern
    assert ["mean_type" in call for call in api.calls] == ([True, True] if modern else [True, False, False])


def test_port_in_storage_or_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15 item 13: .storage/http where Home Assistant keeps it there (no deprecated YAML), else YAML."""
    monkeypatch.setattr(provision, "http_in_storage", lambda: True)
    provision.write_config(tmp_path / "new", 8125, minimal=True)
    assert "http:" not in (tmp_path / "new" / "configuration.yaml").read_text()
    stored = json.loads((tmp_path / "new" / ".storage" / "http").read_text())
    assert stored["version"] == 1
    assert stored["data"] == {"server_port": 8125, "server_host": ["127.0.0.1"]}
    # an existing store (migrated by Home Assistant) keeps the user's settings, takes the new port
    migrated = {"version": 3, "minor_version": 1, "key": "http"}
    migrated["data"] = {"stable": {"server_port": 8125, "ip_ban_enabled": False}, "pending": {"x": 1}}
    (tmp_path / "new" / ".storage" / "http").write_text(json.dumps(migrated))
    provision.write_http_storage(tmp_path / "new", 9000)
    data = json.loads((tmp_path / "new" / ".storage" / "http").read_text())["data"]
    assert data["stable"] == {"server_port": 9000, "ip_ban_enabled": False}
    assert data["pending"] is None
    # scripts/develop's config written on an older Home Assistant loses its http include
    monkeypatch.setattr(provision, "http_in_storage", lambda: False)
    provision.write_config(tmp_path / "dev", 8123)
    assert provision.HTTP_INCLUDE in (tmp_path / "dev" / "configuration.yaml").read_text()
    assert (tmp_path / "dev" / "develop_http.yaml").read_text() == "server_port: 8123\n"
    monkeypatch.setattr(provision, "http_in_storage", lambda: True)
    provision.write_config(tmp_path / "dev", 8124)
    assert "http:" not in (tmp_path / "dev" / "configuration.yaml").read_text()
    assert json.loads((tmp_path / "dev" / ".storage" / "http").read_text())["data"] == {"server_port": 8124}


def test_http_in_storage_matches_the_installed_release() -> None:
    """2025.4 (main lane) sets the port in YAML; 2026.10+ (latest lanes) keeps it in .storage/http."""
    from homeassistant.const import MAJOR_VERSION, MINOR_VERSION

    assert provision.http_in_storage() is ((MAJOR_VERSION, MINOR_VERSION) >= (2026, 10))
