"""`python -m bench.chaos [--duration-s S] [--seed N] [--out FILE]`: one chaos run; prints its JSON,
writes it to --out, and exits 1 when a check is not 0. SIGTERM and Ctrl-C stop the stack, then exit.
`--table FILE` prints the README's markdown table of an earlier result instead."""

import argparse
import json
import random
import signal
import sys
from pathlib import Path

from bench.chaos import report
from bench.chaos.run import Config, run

RESULTS = Path(__file__).resolve().parents[1] / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos")
    parser.add_argument("--duration-s", type=float, default=300.0, help="load and faults this long")
    parser.add_argument("--seed", type=int, help="default: a random one, printed and recorded")
    parser.add_argument("--settle-s", type=float, default=Config.settle_s, help="longest quiet wait")
    parser.add_argument("--redis-fsync", choices=("always", "everysec", "no"), default=Config.redis_fsync)
    parser.add_argument("--out", type=Path, default=RESULTS / "chaos.json")
    parser.add_argument("--workdir", type=Path, help="where the run's data and logs go (default: /tmp)")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the services' logs even when it passes"
    )
    parser.add_argument("--table", type=Path, help="print the markdown table of this result and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(report.markdown(json.loads(args.table.read_text())))
        return 0
    # SIGTERM (a test's timeout, a CI cancel) unwinds like Ctrl-C, so the stack's processes are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    print(f"[chaos] seed {seed}, {args.duration_s:.0f} s", flush=True)
    config = Config(
        seed=seed, duration_s=args.duration_s, settle_s=args.settle_s, redis_fsync=args.redis_fsync
    )
    result = run(config, args.workdir, keep_logs=args.keep_logs)
    text = json.dumps(result, indent=2, default=str)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    print(report.markdown(result), file=sys.stderr)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
