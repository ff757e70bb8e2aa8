"""Command line: ``python -m simulator generate|serve|bench``.

python -m simulator generate --out .sim/world --people 3000 --days 30 --seed 42
python -m simulator serve --world .sim/world [--pg-dsn postgresql://postgres@127.0.0.1:5432/postgres]
python -m simulator bench --events 10000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time

from simulator.config import WorldConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator")
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="generate a world into a directory")
    g.add_argument("--out", required=True)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--people", type=int, default=3000)
    g.add_argument("--days", type=int, default=30)
    g.add_argument("--people-per-day", type=float, default=None)
    g.add_argument("--history-days", type=int, default=35)
    g.add_argument("--start-date", default="2026-10-01")
    g.add_argument("--titles", type=int, default=300)
    g.add_argument("--malformed-rows", type=int, default=0)
    g.add_argument("--workers", type=int, default=2)
    s = sub.add_parser("serve", help="serve a generated world over the sandbox APIs")
    s.add_argument("--world", required=True)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--pg-dsn", default=None, help="PostgreSQL server DSN; loads the auth service database")
    s.add_argument("--pg-database", default=None)
    for name in ("metrica", "appmetrica", "direct", "billing", "content"):
        s.add_argument(f"--{name}-port", type=int, default=None)
    b = sub.add_parser("bench", help="measure generation speed")
    b.add_argument("--events", type=int, default=10_000_000)
    b.add_argument("--workers", type=int, default=2)
    b.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.command == "generate":
        from simulator.world.generate import generate_world

        cfg = WorldConfig(
            seed=args.seed,
            people=args.people,
            days=args.days,
            people_per_day=args.people_per_day,
            history_days=args.history_days,
            start_date=dt.date.fromisoformat(args.start_date),
            titles=args.titles,
            malformed_rows=args.malformed_rows,
            workers=args.workers,
        )
        t0 = time.perf_counter()
        out = generate_world(cfg, args.out)
        counts = json.loads((out / "world.json").read_text())["counts"]
        print(
            json.dumps(
                {"world": str(out), "seconds": round(time.perf_counter() - t0, 2), "counts": counts}, indent=2
            )
        )
        return 0
    if args.command == "serve":
        from simulator.sandbox import run_forever

        ports = {
            n: getattr(args, f"{n}_port")
            for n in ("metrica", "appmetrica", "direct", "billing", "content")
            if getattr(args, f"{n}_port") is not None
        }
        run_forever(args.world, ports=ports, pg_dsn=args.pg_dsn, pg_database=args.pg_database, host=args.host)
        return 0
    from simulator.bench import run_benchmark

    print(json.dumps(run_benchmark(args.events, workers=args.workers, out_dir=args.out), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
