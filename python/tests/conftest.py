"""Shared fixtures: the repository's examples and the `covenant` binary they are compared with."""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def covenant_bin() -> str:
    found = os.environ.get("COVENANT_BIN") or str(REPO / "target" / "release" / "covenant")
    if not Path(found).exists():
        pytest.fail(f"no covenant binary at {found}: run `cargo build --release` or set COVENANT_BIN")
    return found


def cli(*args: str) -> bytes:
    """The binary's stdout for a command that must succeed."""
    done = subprocess.run([covenant_bin(), *args], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def example_cases():
    """(program, data file) for every example data file: `data/<stem>.json` or
    `data/<stem>_<variant>.json` belongs to `<stem>.cov`."""
    cases = []
    programs = sorted(EXAMPLES.glob("*.cov"), key=lambda p: -len(p.stem))
    for data in sorted((EXAMPLES / "data").glob("*.json")):
        program = next(p for p in programs if data.stem == p.stem or data.stem.startswith(p.stem + "_"))
        cases.append((program, data))
    return cases


def portfolio_lines(data: Path, count: int):
    """`count` variations of one facility's data, as JSON Lines: every money amount and
    quantity scaled by a different factor, so that statuses differ across the portfolio.
    Each 13th facility is broken (its `as_of` removed) to exercise the error rows."""
    base = json.loads(data.read_text())
    lines = []
    for i in range(count):
        factor = ["1", "0.5", "0.8", "1.2", "1.7", "0.95", "2.4"][i % 7]
        facility = _scaled(base, factor)
        if i % 13 == 12:
            facility.pop("as_of", None)
        lines.append(json.dumps(facility, ensure_ascii=False))
    return lines


def _scaled(value, factor: str, key: str = ""):
    from decimal import Decimal

    if isinstance(value, dict):
        return {k: _scaled(v, factor, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_scaled(v, factor, key) for v in value]
    # Amounts (strings of digits) under money-like keys scale; dates, rates and names stay.
    if isinstance(value, str) and key in {"amount", "debt", "cash", "price", "value", "balance", "units", "quantity", "outstanding"}:
        try:
            return str(Decimal(value) * Decimal(factor))
        except ArithmeticError:
            return value
    return value
