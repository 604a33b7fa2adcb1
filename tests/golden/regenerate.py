"""Rewrite ``stream.json``, the golden batches of the current stream version.

Run it only on purpose, together with a bump of ``refsampler.plan.STREAM_VERSION``::

    .venv/bin/python tests/golden/regenerate.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from refsampler.plan import STREAM_VERSION
from tests.golden.cases import CASES, fingerprint


def main() -> None:
    """Write every case's batches' fingerprint and first batch."""
    out = {"stream_version": STREAM_VERSION, "cases": {}}
    for name, case in CASES.items():
        batches = case.batches()
        out["cases"][name] = {"first_batch": batches[0], "sha256": fingerprint(batches)}
    path = Path(__file__).with_name("stream.json")
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(CASES)} cases to {path}")


if __name__ == "__main__":
    main()
