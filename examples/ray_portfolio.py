"""The Spark example's portfolio evaluated with Ray Data instead.

    pip install 'ray[data]' ./python
    python examples/ray_portfolio.py --facilities 1000 --out /tmp/portfolio-ray

writes the same generated portfolio to `OUT/portfolio.parquet`, evaluates it under the base
case and every scenario with `Dataset.map_batches`, writes `OUT/results/` (Parquet, the
columns of `Program.evaluate_arrow`) and prints breaches, calls and shortfall per scenario.

The program is compiled on the driver (compile errors stop the job before it starts) and
handed to an actor class: each actor unpickles it, so compiles it, once, and evaluates
every batch it is given.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import covenant
from spark_portfolio import HERE, make_portfolio


class Evaluate:
    """One per actor: the program compiled once, every batch evaluated under every scenario."""

    def __init__(self, program: covenant.Program):
        self.program = program
        self.scenarios = [None, *program.scenarios]

    def __call__(self, table: pa.Table) -> pa.Table:
        batch = table.combine_chunks().to_batches()
        batch = batch[0] if batch else pa.record_batch({c: pa.array([], t) for c, t in zip(table.column_names, table.schema.types)})
        results = [self.program.evaluate_arrow(batch, scenario=s) for s in self.scenarios]
        return pa.Table.from_batches(results)


def summarise(results: pa.Table) -> list:
    """Per scenario: facilities, errors, breaches per covenant, calls, their total and the
    liquidation shortfall, figures summed exactly as decimals."""
    rows: dict = {}
    for r in results.to_pylist():
        s = rows.setdefault(r["scenario"] or "(base)", {"facilities": 0, "errors": 0, "calls": 0, "call_amount_sum": Decimal(0)})
        s["facilities"] += 1
        s["errors"] += r["error_code"] is not None
        for column, value in r.items():
            if column.startswith("covenant_") and column.endswith("_status"):
                key = "breaches_" + column[len("covenant_"):-len("_status")]
                s[key] = s.get(key, 0) + (value == "breach")
            elif column.startswith("call_") and column.endswith("_status"):
                s["calls"] += value == "called"
            elif column.startswith("call_") and column.endswith("_amount") and value:
                s["call_amount_sum"] += Decimal(value)
            elif column.startswith("liquidation_") and column.endswith("_shortfall"):
                key = column[len("liquidation_"):] + "_sum"
                s[key] = s.get(key, Decimal(0)) + Decimal(value or 0)
    return [{"scenario": k, **v} for k, v in sorted(rows.items())]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--program", default=str(HERE / "gpu_term_loan.cov"))
    parser.add_argument("--data", default=str(HERE / "data" / "gpu_term_loan.json"))
    parser.add_argument("--facilities", type=int, default=1000)
    parser.add_argument("--portfolio")
    parser.add_argument("--out", default="examples/output-ray")
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)

    import ray

    program = covenant.Program.from_file(args.program)
    out = Path(args.out)
    portfolio = args.portfolio or str(out / "portfolio.parquet")
    if not args.portfolio:
        make_portfolio(Path(args.data), args.facilities, Path(portfolio))
    # One CPU beyond the actors', for the tasks that read the Parquet files and write the
    # results: without it the actors hold every CPU and the read never starts.
    ray.init(num_cpus=args.actors + 1, include_dashboard=False, ignore_reinit_error=True)
    try:
        facilities = ray.data.read_parquet(portfolio, override_num_blocks=args.actors)
        results = facilities.map_batches(
            Evaluate,
            fn_constructor_args=(program,),
            batch_format="pyarrow",
            batch_size=args.batch_size,
            compute=ray.data.ActorPoolStrategy(size=args.actors),
        )
        results.write_parquet(str(out / "results"))
    finally:
        ray.shutdown()
    table = pq.read_table(out / "results")
    summary = summarise(table)
    for row in summary:
        print(json.dumps(row, default=str))
    (out / "summary.json").write_text(json.dumps(summary, default=str, indent=2) + "\n")
    print(f"program {program.hash}: {table.num_rows} rows in {out / 'results'}")


if __name__ == "__main__":
    main()
