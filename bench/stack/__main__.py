"""`python -m bench.stack [--quick]` (`make bench`): starts the stack, runs part 0 (a long PDF), the
SciFact parts when the data set is there, and writes bench/results/stack.json (stack-quick.json with
--quick), the CPU seconds and peak memory of every process (part 7) printed at the end."""

import argparse
import json
import os
import random
import signal
import sys
import tempfile
from pathlib import Path

import httpx

from bench.stack.big_pdf import bench_big_pdf
from bench.stack.run import SIZES, scifact_parts
from bench.stack.scifact import SCIFACT
from bench.stack.services import Stack, cpu_info

RESULTS = Path(__file__).resolve().parents[1] / "results"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check that it works")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows up in a pipe or a log too

    def interrupted(signum: int, _frame: object) -> None:  # SIGTERM (and SIGINT even when inherited
        raise KeyboardInterrupt(signal.Signals(signum).name)  # as ignored) still stop the stack it started

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    mode = "quick" if args.quick else "full"
    size = SIZES[mode]
    cpu = cpu_info()
    results: dict = {"mode": mode, "sizes": size, "cores": os.cpu_count(), "cpu": cpu}
    yes = {True: "yes", False: "no"}
    print(
        f"CPU: {cpu['model']}, {cpu['cores']} cores; AMX {yes[cpu['amx']]}, AVX-512 BF16 "
        f"{yes[cpu['avx512_bf16']]}, AVX-512F {yes[cpu['avx512f']]}"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    random.seed(0)

    with tempfile.TemporaryDirectory(prefix="bench-stack-") as tmp:
        log = RESULTS / "logs" / "stack.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        stack = Stack(Path(tmp), log)
        print(f"starting the stack in {tmp} (service output: {log})", flush=True)
        try:
            stack.start()
            timeout = httpx.Timeout(600, connect=10)
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            with (
                httpx.Client(base_url=stack.api, timeout=timeout, limits=limits) as api,
                httpx.Client(base_url=stack.compute, timeout=timeout, limits=limits) as compute,
                httpx.Client(base_url=stack.chroma, timeout=timeout, limits=limits) as chroma,
            ):
                # First: compute's parse-peak gauge then holds this document's peak alone.
                results["big_pdf"] = bench_big_pdf(stack, api, Path(tmp), size["big_pdf_pages"])
                if not (SCIFACT / "corpus.jsonl.gz").is_file():
                    print(f"\n{SCIFACT} is absent: the SciFact parts are skipped")
                    results["skipped"] = f"{SCIFACT} absent"
                else:
                    scifact_parts(stack, api, compute, chroma, size, not args.quick, results)
        finally:
            stack.stop()

    print_cpu_and_memory(stack, results)
    out = RESULTS / ("stack-quick.json" if args.quick else "stack.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


def print_cpu_and_memory(stack: Stack, results: dict) -> None:
    results["cpu_seconds_by_phase"] = stack.phase_cpu_s
    print(
        "\nCPU seconds used in each phase (user + system; the machine has "
        f"{os.cpu_count()} cores; 'ingest N' = N abstracts per file, 'embed N' = /embed alone on its chunks)"
    )
    labels = sorted({k for v in stack.phase_cpu_s.values() for k in v})
    print(f"  {'process':20}" + "".join(f"{p:>16}" for p in stack.phase_cpu_s))
    for label in labels:
        print(f"  {label:20}" + "".join(f"{v.get(label, 0):>16.1f}" for v in stack.phase_cpu_s.values()))
    mb = {k: round(v / 1024, 1) for k, v in sorted(stack.peak_kb.items())}
    phases = {
        p: {k: round(v / 1024, 1) for k, v in peaks.items()} for p, peaks in stack.phase_peak_kb.items()
    }
    results["peak_rss_mb"] = mb
    results["peak_rss_mb_by_phase"] = phases
    print("\nPeak resident memory (VmHWM, MB): the whole run, then each phase alone")
    targets = {"orchestrator": 300, "compute": 1200}
    print(f"  {'process':20}{'run':>9}" + "".join(f"{p:>16}" for p in phases) + "  target")
    for label, value in mb.items():
        cells = "".join(f"{phases[p].get(label, 0):>16.1f}" for p in phases)
        target = f"  <= {targets[label]}" if label in targets else ""
        print(f"  {label:20}{value:>9.1f}{cells}{target}")


if __name__ == "__main__":
    sys.exit(main())
