"""Where the public conformance corpus is: ``$OMS_CORPUS``, else ``../shared/corpus`` beside the checkout.

The corpus is never part of the repository (its telegrams come from projects under other
licences); tests that need it skip with the path they looked at when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

_BESIDE = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CORPUS = Path(os.environ.get("OMS_CORPUS") or _BESIDE)
