"""Covenant from Python: compile a rule set once, evaluate facilities many times.

Reports are the dicts of ``covenant run --format json``: every decimal is a string holding
the report's exact text (``"0.5661771717364355869171355011"``), as in the JSON report
itself, so ``json.dumps(report, indent=2, ensure_ascii=False)`` writes the command line's
output byte for byte. Convert with ``decimal.Decimal(text)`` where arithmetic is wanted:
a Decimal would lose nothing either, but the dict would no longer be the JSON report.
"""

from __future__ import annotations

import json
from decimal import Decimal
from os import PathLike, fspath
from typing import Any, Iterable, Optional, Union

from covenant._native import CompileError, CovenantError, DataError, NativeProgram

__all__ = ["Program", "CovenantError", "CompileError", "DataError"]

Data = Union[str, bytes, dict]


def _json_default(value: Any) -> Any:
    # Decimals go to the engine as their text, never through float.
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"a {type(value).__name__} is not facility data: use str, int, Decimal, date, list or dict")


def _text(data: Data) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, (bytes, bytearray)):
        return bytes(data).decode("utf-8")
    return json.dumps(data, default=_json_default, ensure_ascii=False)


class Program:
    """A compiled Covenant program: immutable and safe to share between threads.

    ``Program(source, name="deal.cov")`` compiles text (file imports are read relative to
    ``name``); ``Program.from_file(path)`` reads a file and its imports. A ``Program``
    pickles as its sources (the root file and every imported file), so Spark and Ray ship
    it to workers, where it is compiled again without reading any file.
    """

    __slots__ = ("_native",)

    def __init__(self, source: str, name: str = "<program>.cov"):
        self._native = NativeProgram.compile(name, source)

    @classmethod
    def from_file(cls, path: Union[str, PathLike]) -> "Program":
        return cls._wrap(NativeProgram.compile_file(fspath(path)))

    @classmethod
    def _wrap(cls, native: NativeProgram) -> "Program":
        program = cls.__new__(cls)
        program._native = native
        return program

    @classmethod
    def _from_sources(cls, name: str, source: str, imports: list) -> "Program":
        return cls._wrap(NativeProgram.compile_sources(name, source, [tuple(i) for i in imports]))

    def __reduce__(self):
        name, source, imports = self._native.sources()
        return (Program._from_sources, (name, source, imports))

    def __repr__(self) -> str:
        return f"<covenant.Program {self.facility!r} {self.hash}>"

    @property
    def hash(self) -> str:
        """The content hash of every source, as 16 hex digits (the service and CLI's hash)."""
        return self._native.hash

    @property
    def facility(self) -> Optional[str]:
        return self._native.facility

    @property
    def scenarios(self) -> list:
        """The scenario names, in declaration order."""
        return self._native.scenarios

    def input_schema(self) -> dict:
        """The JSON Schema of the facility data the program reads."""
        return json.loads(self._native.input_schema)

    def evaluate(self, data: Data, scenario: Optional[str] = None) -> dict:
        """The report for one facility (a dict, or JSON text), under a scenario or the base
        case. Raises ``DataError`` when the data is refused."""
        return json.loads(self._native.report_json(_text(data), scenario))

    def evaluate_json(self, data: Data, scenario: Optional[str] = None, pretty: bool = False) -> str:
        """The report as JSON text: a ``covenant batch`` line, or with ``pretty`` the output of
        ``covenant run --format json`` (less its final newline)."""
        return self._native.report_json(_text(data), scenario, pretty)

    def evaluate_many(self, data: Iterable[Data], scenario: Optional[str] = None, errors: str = "raise") -> list:
        """Reports for many facilities, evaluated in parallel with the GIL released. With
        ``errors="raise"`` the first facility refused raises its ``DataError`` (its ``index``
        says which); with ``errors="return"`` its place in the list holds the exception."""
        if errors not in ("raise", "return"):
            raise ValueError(f"errors must be \"raise\" or \"return\", not {errors!r}")
        results = []
        for index, (report, failure) in enumerate(self._native.report_json_many([_text(d) for d in data], scenario)):
            if failure is None:
                results.append(json.loads(report))
                continue
            code, message, text = failure
            error = DataError(text)
            error.code, error.message, error.index = code, message, index
            error.diagnostics = [{"code": code, "message": message, "help": None, "text": text}]
            if errors == "raise":
                raise error
            results.append(error)
        return results

    def explain(self, data: Data, name: str, scenario: Optional[str] = None) -> dict:
        """Why a figure is what it is: the tree of ``covenant explain --format json``."""
        return json.loads(self._native.explain_json(_text(data), name, scenario))

    def evaluate_arrow(self, batch, scenario: Optional[str] = None, data_column: str = "facility",
                       id_column: Optional[str] = "id", values: Iterable[str] = ()):
        """Evaluates every row of an Arrow record batch (pyarrow, or anything with
        ``__arrow_c_array__``) whose ``data_column`` holds a facility's JSON text, with the GIL
        released, and returns a ``pyarrow.RecordBatch`` with one row per input row:

        - ``id_column`` passed through when the batch has it; ``scenario``;
        - ``error_code`` and ``error``, set on a row that fails (its other columns are null);
        - ``covenant_<name>_status`` and ``_headroom``; ``call_<name>_status`` and
          ``_amount``; ``liquidation_<name>_triggered``, ``_proceeds`` and ``_shortfall``;
          ``default_<name>_status``; ``value_<name>`` for each name in ``values``;
        - ``report``: the report's JSON exactly as ``covenant batch`` writes it.

        Figures are strings holding the report's exact decimal text: a decimal128 column has
        one scale for all its rows, and the engine's figures carry up to 28 decimal places,
        so any fixed scale would round them. Cast where a sum is wanted
        (``CAST(x AS DECIMAL(38, 2))`` in Spark).
        """
        if hasattr(batch, "to_batches") and not hasattr(batch, "__arrow_c_array__"):
            raise TypeError("pass a RecordBatch (a Table's .to_batches() gives them)")
        return self._native.evaluate_arrow(batch, scenario, data_column, id_column, list(values))
