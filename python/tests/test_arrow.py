"""`evaluate_arrow` rows are `covenant batch` lines: the same report bytes, the same errors."""

import json
import subprocess
import threading

import pyarrow as pa
import pytest

import covenant
from conftest import EXAMPLES, covenant_bin, example_cases, portfolio_lines

PROGRAMS = sorted({p for p, _ in example_cases()})


def batch_lines(program_path, lines, scenario, tmp_path):
    data = tmp_path / "portfolio.jsonl"
    data.write_text("\n".join(lines) + "\n")
    args = [covenant_bin(), "batch", str(program_path), "--data", str(data)]
    if scenario:
        args += ["--scenario", scenario]
    done = subprocess.run(args, capture_output=True, check=False)
    return done.stdout.decode().splitlines()


def assert_rows_are_batch_lines(result, lines, scenario):
    rows = result.to_pylist()
    assert len(rows) == len(lines)
    for number, (row, line) in enumerate(zip(rows, lines), start=1):
        assert row["id"] == f"f{number}"
        assert row["scenario"] == scenario
        if row["report"] is not None:
            # With a scenario, batch writes an array of the one report.
            assert (row["report"] if scenario is None else f"[{row['report']}]") == line
            assert row["error"] is None
        else:
            expected = json.loads(line)
            assert expected["line"] == number
            assert (row["error_code"], row["error"]) == (expected["error"]["code"], expected["error"]["message"])


@pytest.mark.parametrize("program_path", PROGRAMS, ids=lambda p: p.stem)
def test_rows_equal_batch_lines_for_every_example_and_scenario(program_path, tmp_path):
    program = covenant.Program.from_file(program_path)
    data = [d for p, d in example_cases() if p == program_path]
    lines = [line for d in data for line in portfolio_lines(d, 14)] + ["not json", ""]
    batch = pa.record_batch({"id": [f"f{i}" for i in range(1, len(lines) + 1)], "facility": lines})
    for scenario in [None, *program.scenarios]:
        result = program.evaluate_arrow(batch, scenario=scenario)
        assert_rows_are_batch_lines(result, batch_lines(program_path, lines, scenario, tmp_path), scenario)


def test_status_and_figure_columns_are_the_reports():
    program = covenant.Program.from_file(EXAMPLES / "gpu_abl.cov")
    text = (EXAMPLES / "data" / "gpu_abl.json").read_text()
    row = program.evaluate_arrow(pa.record_batch({"id": [7], "facility": [text]}), values=["bb_ltv", "debt"]).to_pylist()[0]
    report = program.evaluate(text)
    assert row["id"] == 7
    assert row["covenant_min_dscr_status"] == report["covenants"]["min_dscr"]["status"] == "pass"
    assert row["covenant_min_dscr_headroom"] == report["covenants"]["min_dscr"]["headroom"]
    assert row["call_ltv_call_status"] == "none" and row["call_ltv_call_amount"] == "0"
    assert row["liquidation_enforcement_triggered"] is False
    # Shortfall to the last digit, as text: 78090000 debt - 48340076.0344… proceeds.
    assert row["liquidation_enforcement_shortfall"] == "29749923.965580357142857142855"
    assert row["value_bb_ltv"] == report["values"]["bb_ltv"]
    assert row["value_debt"] == "76000000"  # money: its amount


def test_columns_are_the_same_whether_rows_fail_or_not():
    program = covenant.Program.from_file(EXAMPLES / "gpu_abl.cov")
    good = (EXAMPLES / "data" / "gpu_abl.json").read_text()
    failing = program.evaluate_arrow(pa.record_batch({"id": [1], "facility": ["{}"]}))
    passing = program.evaluate_arrow(pa.record_batch({"id": [1], "facility": [good]}))
    assert failing.schema == passing.schema
    assert failing.to_pylist()[0]["error_code"] == "covenant::data::missing"


def test_a_null_row_and_large_strings_and_no_id():
    program = covenant.Program.from_file(EXAMPLES / "gpu_abl.cov")
    good = (EXAMPLES / "data" / "gpu_abl.json").read_text()
    batch = pa.record_batch({"facility": pa.array([good, None], type=pa.large_string())})
    rows = program.evaluate_arrow(batch, id_column="id").to_pylist()
    assert "id" not in rows[0]
    assert rows[0]["report"] == program.evaluate_json(good)
    assert rows[1]["error_code"] == "covenant::data::missing"


def test_a_missing_or_non_text_data_column_is_refused():
    program = covenant.Program.from_file(EXAMPLES / "gpu_abl.cov")
    with pytest.raises(ValueError, match="no column `facility`"):
        program.evaluate_arrow(pa.record_batch({"json": ["{}"]}))
    with pytest.raises(ValueError, match="not text"):
        program.evaluate_arrow(pa.record_batch({"facility": [1]}))


def test_an_unknown_scenario_is_raised_once():
    program = covenant.Program.from_file(EXAMPLES / "gpu_abl.cov")
    with pytest.raises(covenant.DataError) as raised:
        program.evaluate_arrow(pa.record_batch({"facility": ["{}"]}), scenario="nope")
    assert raised.value.code == "covenant::usage::scenario"


def test_threads_share_one_program():
    program = covenant.Program.from_file(EXAMPLES / "gpu_abl.cov")
    text = (EXAMPLES / "data" / "gpu_abl.json").read_text()
    batch = pa.record_batch({"facility": [text] * 200})
    expected = program.evaluate_arrow(batch)
    results = [None] * 4

    def work(i):
        results[i] = program.evaluate_arrow(batch)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.equals(expected) for r in results)
