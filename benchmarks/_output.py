"""What every benchmark ends with: its result printed as JSON, and written to ``--json`` when given."""

from __future__ import annotations

import json
from pathlib import Path


def emit(out: dict, path: Path | None) -> None:
    print(json.dumps(out, indent=2))
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=2) + "\n")
