"""Scoped vectors of ../shared/corpus/oms-vectors.jsonl, read at test time (never copied here)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.corpus import CORPUS

VECTORS = CORPUS / "oms-vectors.jsonl"


def scoped(scope: str) -> list[Any]:
    """pytest params (id = vector id) for every vector with this scope; one skip param if absent."""
    if not VECTORS.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"corpus not found at {VECTORS}"))]
    out = []
    for line in VECTORS.read_text(encoding="utf-8").splitlines():
        vector = json.loads(line)
        if vector.get("scope") == scope:
            out.append(pytest.param(vector, id=vector["id"]))
    return out


def by_id(vector_id: str) -> dict[str, Any]:
    """One vector by id; skips the test when the corpus is absent."""
    if not VECTORS.is_file():
        pytest.skip(f"corpus not found at {VECTORS}")
    for line in VECTORS.read_text(encoding="utf-8").splitlines():
        vector: dict[str, Any] = json.loads(line)
        if vector["id"] == vector_id:
            return vector
    raise AssertionError(f"vector {vector_id} missing from {VECTORS}")
