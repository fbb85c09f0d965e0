"""The Spark example, run on a small portfolio on `local[2]`: every result row is the
`covenant batch` line for that facility and scenario."""

import json
import os
import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

import covenant
from conftest import EXAMPLES, covenant_bin

# CI installs Java and pyspark; elsewhere the test is skipped when either is missing.
if not os.environ.get("CI"):
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("no java on PATH", allow_module_level=True)

sys.path.insert(0, str(EXAMPLES))
import spark_portfolio  # noqa: E402


def test_spark_rows_equal_covenant_batch(tmp_path):
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    program_path = EXAMPLES / "gpu_term_loan.cov"
    # 120 facilities in 3 partitions: two tasks at once on local[2], a third after.
    spark_portfolio.main(["--program", str(program_path), "--facilities", "120", "--partitions", "3",
                          "--out", str(tmp_path), "--master", "local[2]"])
    portfolio = pq.read_table(tmp_path / "portfolio.parquet").to_pylist()
    results = pq.read_table(tmp_path / "results.parquet").to_pylist()
    program = covenant.Program.from_file(program_path)
    scenarios = [None, *program.scenarios]
    assert len(results) == len(portfolio) * len(scenarios)
    by_key = {(r["id"], r["scenario"]): r for r in results}

    jsonl = tmp_path / "portfolio.jsonl"
    jsonl.write_text("".join(f["facility"] + "\n" for f in portfolio))
    failed = 0
    for scenario in scenarios:
        args = [covenant_bin(), "batch", str(program_path), "--data", str(jsonl)]
        if scenario:
            args += ["--scenario", scenario]
        lines = subprocess.run(args, capture_output=True, check=True).stdout.decode().splitlines()
        assert len(lines) == len(portfolio)
        for facility, line in zip(portfolio, lines):
            row = by_key[(facility["id"], scenario)]
            if row["report"] is not None:
                assert (row["report"] if scenario is None else f"[{row['report']}]") == line
            else:
                failed += 1
                error = json.loads(line)["error"]
                assert (row["error_code"], row["error"]) == (error["code"], error["message"])
    # Every 50th facility is generated broken: 2 of 120, under each scenario.
    assert failed == 2 * len(scenarios)

    summary = {r["scenario"]: r for r in json.loads((tmp_path / "summary.json").read_text())}
    assert set(summary) == {"(base)", *program.scenarios}
    base = [r for r in results if r["scenario"] is None]
    assert summary["(base)"]["breaches_max_lev"] == sum(r["covenant_max_lev_status"] == "breach" for r in base)
    assert summary["(base)"]["calls"] == sum(r["call_bb_call_status"] == "called" for r in base)
