"""The Python package gives the command line's reports, byte for byte, and its errors."""

import json
import pickle
import subprocess
from decimal import Decimal

import pytest

import covenant
from conftest import EXAMPLES, cli, covenant_bin, example_cases

CASES = example_cases()


def scenario_cases():
    out = []
    for program_path, data in CASES:
        out.append((program_path, data, None))
        for s in covenant.Program.from_file(program_path).scenarios:
            out.append((program_path, data, s))
    return out


def run_cli_json(program_path, data, scenario):
    args = ["run", str(program_path), "--data", str(data), "--format", "json"]
    if scenario:
        args += ["--scenario", scenario]
    done = subprocess.run([covenant_bin(), *args], capture_output=True, check=False)
    return done.returncode, done.stdout, done.stderr.decode()


@pytest.mark.parametrize("program_path,data,scenario", scenario_cases(), ids=lambda v: getattr(v, "name", v))
def test_report_is_the_cli_report_byte_for_byte(program_path, data, scenario):
    program = covenant.Program.from_file(program_path)
    code, expected, stderr = run_cli_json(program_path, data, scenario)
    if code != 0:
        # The command refuses the data: so does the package, with the same diagnostic.
        with pytest.raises(covenant.DataError) as refused:
            program.evaluate(data.read_text(), scenario)
        assert refused.value.message in stderr
        return
    report = program.evaluate(data.read_text(), scenario)
    # The dict, written as the command writes JSON, is the command's output.
    assert (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode() == expected
    assert (program.evaluate_json(data.read_text(), scenario, pretty=True) + "\n").encode() == expected


def test_data_as_a_dict_gives_the_same_report_as_text():
    program_path, data = CASES[0]
    program = covenant.Program.from_file(program_path)
    as_dict = json.loads(data.read_text(), parse_float=Decimal)
    assert program.evaluate(as_dict) == program.evaluate(data.read_text())


def test_decimals_are_the_reports_exact_text():
    program = covenant.Program("""
        input { as_of: Date  debt: Money(USD)  pledged: Money(USD) }
        let ltv = input.debt / input.pledged
        covenant max_ltv { require ltv <= 80% }
    """)
    report = program.evaluate({"as_of": "2026-03-31", "debt": Decimal("70"), "pledged": "30"})
    # 70 / 30 = 2.333…, to the engine's 28 decimal places, as text.
    assert report["values"]["ltv"] == "2.3333333333333333333333333333"
    assert report["covenants"]["max_ltv"]["status"] == "breach"


def test_explain_is_the_cli_explanation():
    program_path = EXAMPLES / "gpu_abl.cov"
    data = EXAMPLES / "data" / "gpu_abl.json"
    expected = cli("explain", str(program_path), "--data", str(data), "bb_ltv", "--format", "json")
    tree = covenant.Program.from_file(program_path).explain(data.read_text(), "bb_ltv")
    assert (json.dumps(tree, indent=2, ensure_ascii=False) + "\n").encode() == expected


def test_evaluate_many_matches_evaluate_and_reports_failures_in_place():
    program_path, data = CASES[0]
    program = covenant.Program.from_file(program_path)
    text = data.read_text()
    reports = program.evaluate_many([text, "{}", text], errors="return")
    assert reports[0] == reports[2] == program.evaluate(text)
    assert isinstance(reports[1], covenant.DataError) and reports[1].index == 1
    assert reports[1].code == "covenant::data::missing"
    with pytest.raises(covenant.DataError) as raised:
        program.evaluate_many([text, "not json"])
    assert raised.value.index == 1 and raised.value.code == "covenant::data::json"


def test_hash_is_the_content_hash():
    text = "input { as_of: Date  debt: Money(USD) }\nlet debt = input.debt\n"
    # The same FNV-1a hash the library documents for this text, on every machine.
    assert covenant.Program(text, name="a.cov").hash == "a99824d6714ae5ff"
    assert covenant.Program(text, name="deals/b.cov").hash == "a99824d6714ae5ff"


def test_a_program_pickles_as_its_sources_imports_included(tmp_path):
    (tmp_path / "terms.cov").write_text("let max_leverage = 4.00x\n")
    (tmp_path / "deal.cov").write_text(
        'import "terms.cov"\nimport std.lending\n'
        "input { as_of: Date  debt: Money(USD)  ebitda: Money(USD) }\n"
        "covenant max_lev { require input.debt / input.ebitda <= max_leverage }\n"
    )
    program = covenant.Program.from_file(tmp_path / "deal.cov")
    shipped = pickle.dumps(program)
    # The worker has no files: the copy compiles from the pickled sources alone.
    (tmp_path / "terms.cov").unlink()
    (tmp_path / "deal.cov").unlink()
    copy = pickle.loads(shipped)
    assert copy.hash == program.hash
    data = {"as_of": "2026-03-31", "debt": "450", "ebitda": "100"}
    # 450 / 100 = 4.5x > 4.00x
    assert copy.evaluate(data)["covenants"]["max_lev"]["status"] == "breach"
    assert copy.evaluate(data) == program.evaluate(data)


def test_every_example_survives_pickling():
    for program_path, data in CASES:
        program = covenant.Program.from_file(program_path)
        copy = pickle.loads(pickle.dumps(program))
        assert copy.hash == program.hash
        assert copy.evaluate_json(data.read_text()) == program.evaluate_json(data.read_text())


def test_a_compile_error_carries_the_diagnostic():
    with pytest.raises(covenant.CompileError) as raised:
        covenant.Program("input { as_of: Date }\nlet x = input.missing * 2\n", name="bad.cov")
    error = raised.value
    assert isinstance(error, covenant.CovenantError)
    assert error.code.startswith("covenant::")
    assert "missing" in error.message
    assert len(error.diagnostics) == 1 and error.diagnostics[0]["code"] == error.code
    # The rendered text, as the command line prints it, points into the file.
    assert "bad.cov" in str(error)


def test_a_missing_file_is_a_compile_error():
    with pytest.raises(covenant.CompileError) as raised:
        covenant.Program.from_file(EXAMPLES / "no_such_program.cov")
    assert "no_such_program.cov" in str(raised.value)


def test_data_errors_carry_code_and_message():
    program = covenant.Program.from_file(EXAMPLES / "gpu_abl.cov")
    with pytest.raises(covenant.DataError) as raised:
        program.evaluate("{")
    assert raised.value.code == "covenant::data::json"
    with pytest.raises(covenant.DataError) as raised:
        program.evaluate({})
    assert raised.value.code == "covenant::data::missing"
    assert "as_of" in raised.value.message


def test_an_unknown_scenario_suggests_the_closest():
    program = covenant.Program.from_file(EXAMPLES / "gpu_abl.cov")
    data = (EXAMPLES / "data" / "gpu_abl.json").read_text()
    with pytest.raises(covenant.DataError) as raised:
        program.evaluate(data, scenario="rent_decilne")
    assert raised.value.code == "covenant::usage::scenario"
    assert "rent_decline" in str(raised.value)


def test_explaining_an_unknown_figure_is_an_error():
    program = covenant.Program.from_file(EXAMPLES / "gpu_abl.cov")
    data = (EXAMPLES / "data" / "gpu_abl.json").read_text()
    with pytest.raises(covenant.DataError) as raised:
        program.explain(data, "bb_ltvv")
    assert raised.value.code == "covenant::usage::figure"
    assert "bb_ltv" in str(raised.value)


def test_exceptions_are_named_in_the_package():
    assert covenant.CompileError.__module__ == "covenant"
    assert covenant.CompileError.__name__ == "CompileError"
    assert issubclass(covenant.DataError, covenant.CovenantError)
