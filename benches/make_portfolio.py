#!/usr/bin/env python3
"""Writes a book of N varied miner facilities as JSON Lines, for `covenant stress`.

Each facility is examples/data/miner_facility.json with its loan, coins, BTC price and
liquidity, mining economics and GPU fleet varied deterministically from the seed: the same
N and seed give the same bytes on any machine. With --bad K, K deliberately bad lines (not
JSON, a missing field, a check that fails, a wrong type) are spread through the book.

    python3 benches/make_portfolio.py 20000 --seed 1 > big.jsonl
    python3 benches/make_portfolio.py 200 --seed 7 --bad 4 > examples/stress/portfolio.jsonl

Standard library only.
"""

import argparse
import json
import random
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "examples" / "data" / "miner_facility.json"


def money(x):
    return f"{x:.2f}"


def facility(rng, template):
    f = json.loads(json.dumps(template))
    coins = rng.randrange(100, 3001, 25)
    price = 82_500 * rng.randrange(90, 111) / 100
    vol = rng.choice(["0.025", "0.03", "0.035", "0.04"])
    f["btc"] = {
        "coins": str(coins),
        "price": money(price),
        "daily_vol": vol,
        "daily_volume": str(rng.randrange(10_000, 40_001, 1_000)),
    }
    f["mining"] = {
        "btc_per_month": str(rng.randrange(20, 201, 5)),
        "cash_cost_per_btc": money(rng.randrange(38, 62) * 1_000),
    }
    fleet = []
    gpu_value = 0
    for model, cost, rent in (("H100 SXM", 30_000, 2.35), ("H200 SXM", 35_000, 3.10)):
        count = rng.randrange(0, 4097, 128)
        if count == 0:
            continue
        year, month = rng.choice([(2024, 3), (2024, 6), (2024, 9), (2024, 12), (2025, 3), (2025, 6), (2025, 9), (2025, 12)])
        day = 31 if month in (3, 12) else 30
        unit_cost = cost * rng.randrange(90, 111) / 100
        gpu_value += count * unit_cost * 0.6
        fleet.append({
            "model": model,
            "count": count,
            "purchase_date": f"{year}-{month:02d}-{day}",
            "unit_cost": money(unit_cost),
            "rent_per_hour": money(rent * rng.randrange(80, 121) / 100),
            "utilisation": rng.choice(["0.70", "0.75", "0.80", "0.85", "0.90"]),
        })
    f["gpus"] = fleet
    f["hpc_opex_12m"] = money(rng.randrange(1, 4) * sum(g["count"] for g in fleet) * 1_000)
    # The loan is sized to a base-case LTV of 35% to 80% on roughly the eligible collateral,
    # so most of the book is healthy today and the scenarios tell the facilities apart.
    eligible = coins * price * (1 - 2.33 * float(vol) * 3) + gpu_value * 0.5
    outstanding = max(1, round(eligible * rng.randrange(35, 81) / 100 / 1_000_000)) * 1_000_000
    rate = rng.choice(["0.08", "0.09", "0.10", "0.11", "0.12", "0.13", "0.14", "0.15"])
    f["loan"] = {
        "outstanding": money(outstanding),
        "accrued_interest": money(outstanding * float(rate) / 12),
        "annual_rate": rate,
        "annual_amortisation": money(outstanding * rng.choice([5, 10, 15, 20, 25]) // 100),
    }
    # Keys in the template's order.
    return json.dumps({k: f[k] for k in template}, separators=(",", ":"))


def bad_line(kind, good):
    f = json.loads(good)
    if kind == 0:
        return good[: len(good) // 2]  # cut short: not JSON
    if kind == 1:
        del f["btc"]["price"]  # a missing field
    elif kind == 2:
        f["btc"]["coins"] = "-5"  # fails `check input.btc.coins >= 0`
    else:
        f["loan"]["outstanding"] = "a lot"  # not an amount
    return json.dumps(f, separators=(",", ":"))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("n", type=int, help="facilities to write")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--bad", type=int, default=0, help="bad lines among them")
    args = p.parse_args()
    template = json.loads(TEMPLATE.read_text())
    rng = random.Random(args.seed)
    bad_at = set(random.Random(args.seed + 1).sample(range(args.n), min(args.bad, args.n)))
    out = sys.stdout
    kinds = 0
    for i in range(args.n):
        line = facility(rng, template)
        if i in bad_at:
            line = bad_line(kinds % 4, line)
            kinds += 1
        out.write(line + "\n")


if __name__ == "__main__":
    main()
