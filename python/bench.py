"""Throughput of the same facilities through `covenant batch`, `Program.evaluate_arrow` and
Spark's `mapInArrow` (base case only, so each path evaluates each facility once).

    python python/bench.py --facilities 20000                 # batch and evaluate_arrow
    python python/bench.py --facilities 20000 --spark         # and Spark on local[2]

Prints one line per path: facilities, seconds (wall), facilities per second. Spark's time is
from reading the portfolio to the results written, after the session has started (its start,
some seconds of JVM, is printed apart).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import covenant

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "examples"))
import spark_portfolio  # noqa: E402


def line(name: str, n: int, seconds: float) -> None:
    print(f"{name:<28} {n:>8} facilities {seconds:8.2f} s {n / seconds:>10.0f} /s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--program", default=str(REPO / "examples" / "gpu_term_loan.cov"))
    parser.add_argument("--data", default=str(REPO / "examples" / "data" / "gpu_term_loan.json"))
    parser.add_argument("--facilities", type=int, default=20000)
    parser.add_argument("--batch-rows", type=int, default=4096, help="rows per Arrow record batch")
    parser.add_argument("--bin", default=os.environ.get("COVENANT_BIN", str(REPO / "target" / "release" / "covenant")))
    parser.add_argument("--spark", action="store_true")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    program = covenant.Program.from_file(args.program)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spark_portfolio.make_portfolio(Path(args.data), args.facilities, tmp / "portfolio.parquet")
        table = pq.read_table(tmp / "portfolio.parquet")
        jsonl = tmp / "portfolio.jsonl"
        jsonl.write_text("".join(t + "\n" for t in table.column("facility").to_pylist()))
        n = table.num_rows

        started = time.perf_counter()
        # Into a file: the command refuses a stdout it cannot tell is kept (/dev/null opened
        # for reading and writing).
        with open(tmp / "reports.jsonl", "wb") as reports:
            subprocess.run([args.bin, "batch", args.program, "--data", str(jsonl)], stdout=reports, check=True)
        line("covenant batch", n, time.perf_counter() - started)

        batches = table.to_batches(max_chunksize=args.batch_rows)
        started = time.perf_counter()
        rows = sum(program.evaluate_arrow(b).num_rows for b in batches)
        line("Program.evaluate_arrow", rows, time.perf_counter() - started)

        if args.spark:
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            started = time.perf_counter()
            spark = spark_portfolio.spark_session(args.master)
            print(f"spark session started in {time.perf_counter() - started:.1f} s", flush=True)
            try:
                started = time.perf_counter()
                results = spark_portfolio.evaluate(spark, program, str(tmp / "portfolio.parquet"), str(tmp / "results.parquet"), scenarios=[None])
                line(f"spark mapInArrow {args.master}", results.count(), time.perf_counter() - started)
            finally:
                spark.stop()


if __name__ == "__main__":
    main()
