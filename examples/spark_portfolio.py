"""A portfolio of facilities evaluated on Spark: Parquet in, Parquet out, and a summary.

    python examples/spark_portfolio.py --facilities 1000 --out /tmp/portfolio

generates a portfolio from one example facility (each facility its amounts scaled
differently), writes it to `OUT/portfolio.parquet` (columns `id` and `facility`, the
facility's JSON text), evaluates it under the base case and every scenario with
`DataFrame.mapInArrow`, writes one row per facility and scenario to `OUT/results.parquet`
and prints breaches per rule, calls and shortfall per scenario (also written to
`OUT/summary`, JSON, and locally `OUT/summary.json`). `--portfolio PATH` reads an
existing portfolio instead; `--master` picks the cluster (`local[2]` by default).

The program is compiled on the driver, which reports compile errors before any task starts,
and shipped to the tasks inside the function `mapInArrow` runs: a `covenant.Program`
pickles as its sources, so each task compiles it once when it unpickles the function and
then evaluates every batch of its partition with it.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import covenant

HERE = Path(__file__).resolve().parent
SCALED_KEYS = {"amount", "debt", "cash", "price", "value", "balance", "units", "quantity", "outstanding"}
FACTORS = ["1", "0.5", "0.8", "1.2", "1.7", "0.95", "2.4", "1.05", "0.65"]


def scaled(value, factor: str, key: str = ""):
    """The facility with every amount under a money-like key multiplied by `factor`."""
    if isinstance(value, dict):
        return {k: scaled(v, factor, k) for k, v in value.items()}
    if isinstance(value, list):
        return [scaled(v, factor, key) for v in value]
    if isinstance(value, str) and key in SCALED_KEYS:
        try:
            return str(Decimal(value) * Decimal(factor))
        except ArithmeticError:
            return value
    return value


def make_portfolio(data: Path, count: int, path: Path) -> None:
    """`count` facilities varied from one example's data, every 50th one broken (no
    `as_of`) so that the error rows are exercised too."""
    base = json.loads(data.read_text())
    ids, facilities = [], []
    for i in range(count):
        facility = scaled(base, FACTORS[i % len(FACTORS)])
        if i % 50 == 49:
            facility.pop("as_of", None)
        ids.append(f"F{i + 1:06d}")
        facilities.append(json.dumps(facility, ensure_ascii=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": ids, "facility": facilities}), path)


def result_schema(program: covenant.Program, values) -> str:
    """The Spark schema of `evaluate_arrow`'s result, read off an empty batch."""
    empty = pa.record_batch({"id": pa.array([], pa.string()), "facility": pa.array([], pa.string())})
    arrow = program.evaluate_arrow(empty, values=values).schema
    spark_type = {pa.string(): "string", pa.bool_(): "boolean"}
    return ", ".join(f"`{f.name}` {spark_type[f.type]}" for f in arrow)


def evaluate(spark, program: covenant.Program, portfolio: str, out: str, values=(), scenarios=None):
    """Every facility under each of `scenarios` (`None` the base case; by default the base
    case and every scenario), written to `out`; returns the results read back from it."""
    scenarios = [None, *program.scenarios] if scenarios is None else list(scenarios)
    values = list(values)

    def evaluate_partition(batches):
        # `program` arrives pickled with this function: compiled once per task.
        for batch in batches:
            for scenario in scenarios:
                yield program.evaluate_arrow(batch, scenario=scenario, values=values)

    facilities = spark.read.parquet(portfolio)
    results = facilities.mapInArrow(evaluate_partition, result_schema(program, values))
    results.write.mode("overwrite").parquet(out)
    return spark.read.parquet(out)


def summarise(results, program: covenant.Program):
    """Breaches per covenant, calls and their total, liquidation shortfall, per scenario.
    Figures are decimal text; they are summed as DECIMAL(38, 2), to the cent."""
    from pyspark.sql import functions as F

    money = lambda c: F.col(c).cast("decimal(38,2)")  # noqa: E731
    columns = results.columns
    aggregates = [F.count("*").alias("facilities"), F.count("error_code").alias("errors")]
    for c in columns:
        if c.startswith("covenant_") and c.endswith("_status"):
            aggregates.append(F.sum(F.when(F.col(c) == "breach", 1).otherwise(0)).alias(f"breaches_{c[len('covenant_'):-len('_status')]}"))
    calls = [c[: -len("_status")] for c in columns if c.startswith("call_") and c.endswith("_status")]
    if calls:
        aggregates.append(F.sum(sum((F.when(F.col(f"{c}_status") == "called", 1).otherwise(0) for c in calls), F.lit(0))).alias("calls"))
        aggregates.append(F.sum(sum((F.coalesce(money(f"{c}_amount"), F.lit(0).cast("decimal(38,2)")) for c in calls), F.lit(0).cast("decimal(38,2)"))).alias("call_amount_sum"))
    shortfalls = [c for c in columns if c.startswith("liquidation_") and c.endswith("_shortfall")]
    for c in shortfalls:
        aggregates.append(F.sum(money(c)).alias(f"{c[len('liquidation_'):]}_sum"))
    scenario = F.coalesce(F.col("scenario"), F.lit("(base)")).alias("scenario")
    return results.groupBy(scenario).agg(*aggregates).orderBy("scenario")


def spark_session(master: str):
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(master)
        .appName("covenant-portfolio")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--program", default=str(HERE / "gpu_term_loan.cov"))
    parser.add_argument("--data", default=str(HERE / "data" / "gpu_term_loan.json"), help="the facility the portfolio is varied from")
    parser.add_argument("--facilities", type=int, default=1000)
    parser.add_argument("--portfolio", help="an existing Parquet portfolio (columns id, facility) instead of a generated one")
    parser.add_argument("--out", default="examples/output")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--partitions", type=int, default=0, help="repartition the portfolio (0: as read)")
    args = parser.parse_args(argv)

    program = covenant.Program.from_file(args.program)
    # `--out` may be a cluster's URL (s3://…, hdfs://…): joined as text, not as a local path.
    out = args.out.rstrip("/")
    portfolio = args.portfolio or f"{out}/portfolio.parquet"
    if not args.portfolio:
        make_portfolio(Path(args.data), args.facilities, Path(portfolio))
    spark = spark_session(args.master)
    try:
        if args.partitions:
            spark.read.parquet(portfolio).repartition(args.partitions).write.mode("overwrite").parquet(f"{out}/portfolio_split.parquet")
            portfolio = f"{out}/portfolio_split.parquet"
        results = evaluate(spark, program, portfolio, f"{out}/results.parquet")
        summary = summarise(results, program)
        summary.show(truncate=False, vertical=True)
        rows = [r.asDict() for r in summary.collect()]
        summary.coalesce(1).write.mode("overwrite").json(f"{out}/summary")
        if "://" not in out:
            (Path(out) / "summary.json").write_text(json.dumps(rows, default=str, indent=2) + "\n")
        print(f"program {program.hash}: {results.count()} rows in {out}/results.parquet, summary in {out}/summary")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
