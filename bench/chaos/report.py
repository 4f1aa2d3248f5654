"""The chaos run's result: one JSON document (printed, and written to bench/results/chaos.json by
`make chaos`), and the markdown table the README shows, made from that JSON.

Layout: seed, duration_s, started_at, cpu {model, cores}, config, passed (every check 0), checks {name:
number}, definitions {name: what it counts}, examples {name: [...]} (nonzero checks only), faults {kind:
count}, fault_log [...], operations {operation: {outcome: count}} (outcomes: an HTTP status, or
`unknown:<error>` for no answer), acknowledged {uploads, jobs}, searches {audited, unaudited,
hits_checked}, reconcile [the two on-demand reports], totals (what Redis and Chroma held at the end),
timings_s, logs (where the services' logs were, kept when a check failed)."""

import os
import platform
from pathlib import Path

from bench.chaos.checks import DEFINITIONS, Findings
from bench.chaos.faults import Faults
from bench.chaos.ledger import Ledger
from bench.chaos.load import OPERATIONS
from bench.chaos.searches import SearchAudit


def cpu() -> dict[str, object]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"model": model, "cores": len(os.sched_getaffinity(0))}


def passed(checks: dict[str, int]) -> bool:
    return all(n == 0 for n in checks.values())


def build(
    *,
    config: dict,
    started_at: str,
    findings: Findings,
    faults: Faults,
    ledger: Ledger,
    audit: SearchAudit,
    reconciles: list[dict],
    timings_s: dict[str, float],
    logs: Path,
) -> dict:
    checks = findings.checks
    return {
        "seed": config["seed"],
        "duration_s": config["duration_s"],
        "started_at": started_at,
        "cpu": cpu(),
        "config": config,
        "passed": passed(checks),
        "checks": checks,
        "definitions": DEFINITIONS,
        "examples": {name: found for name, found in findings.examples.items() if checks.get(name)},
        "faults": faults.counts,
        "fault_log": faults.log,
        "operations": {op: dict(ledger.operations.get(op, {})) for op in OPERATIONS},
        "acknowledged": {"uploads": len(ledger.uploads), "jobs": len(ledger.jobs)},
        "searches": {
            "audited": audit.audited,
            "unaudited": audit.unaudited,
            "hits_checked": audit.hits_checked,
        },
        "reconcile": reconciles,
        "totals": findings.totals,
        "timings_s": {phase: round(s, 1) for phase, s in timings_s.items()},
        "logs": str(logs),
    }


def markdown(result: dict) -> str:
    """The README's table: every check with its number, then the faults injected and operations done."""
    lines = [
        f"`make chaos CHAOS_S={result['duration_s']:.0f} CHAOS_SEED={result['seed']}` "
        f"({result['started_at'][:10]}, {result['cpu']['model']}, {result['cpu']['cores']} cores): "
        f"{'all checks 0' if result['passed'] else 'CHECKS FAILED'}",
        "",
        "| check | count | target |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {n} | 0 |" for name, n in result["checks"].items()]
    faults = ", ".join(f"{kind} {n}" for kind, n in result["faults"].items())
    done = ", ".join(
        f"{op} {sum(n for outcome, n in outcomes.items() if outcome.startswith('2'))}"
        f"/{sum(outcomes.values())}"
        for op, outcomes in result["operations"].items()
    )
    lines += ["", f"Faults injected: {faults}.", "", f"Operations (succeeded/tried): {done}."]
    return "\n".join(lines)
