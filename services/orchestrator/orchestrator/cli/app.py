"""`docsearch`: a command-line client of /api/v1 for people without the frontend (httpx only).

    docsearch ingest report.pdf notes/ --collection docs [--create]
    docsearch search "what did the report conclude" --collection docs [--top-k 5] [--mode lexical]

Also `collections` and `jobs [--status failed]`; `--url` (or DOCSEARCH_URL), `--api-key` (or
DOCSEARCH_API_KEY). Exit status: 0 when everything asked for worked, 1 when something failed, 2 on misuse.
"""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from orchestrator.cli.progress import Tracked, follow_all
from orchestrator.cli.snippets import snippet

API = "/api/v1"


class CliError(Exception):
    pass


def _check(response: httpx.Response, *ok: int) -> Any:
    if response.status_code in (ok or (200,)):
        return response.json()
    try:
        error = response.json()["error"]
        message = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    raise CliError(
        f"{response.request.method} {response.request.url.path} → {response.status_code} {message}"
    )


def _files(paths: Sequence[str]) -> list[Path]:
    """The files named, and every file under the folders named (hidden ones left out), in order."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise CliError(f"{name}: no such file or folder")
    return found


async def _ensure_collection(client: httpx.AsyncClient, name: str, create: bool) -> None:
    response = await client.get(f"{API}/collections/{name}")
    if response.status_code == 404:
        if not create:
            raise CliError(f"collection {name!r} does not exist (create it with --create)")
        _check(await client.post(f"{API}/collections", json={"name": name}), 201)
        print(f"created collection {name!r}")
        return
    _check(response)


async def ingest(client: httpx.AsyncClient, args: argparse.Namespace) -> int:
    files = _files(args.paths)
    if not files:
        raise CliError("no files to ingest")
    await _ensure_collection(client, args.collection, args.create)
    fields = {"on_duplicate": args.on_duplicate}
    if args.metadata:
        fields["metadata"] = args.metadata
    jobs: list[Tracked] = []
    failed = 0
    for path in files:
        response = await client.post(
            f"{API}/collections/{args.collection}/documents",
            files={"file": (path.name, path.read_bytes(), "application/octet-stream")},
            data=fields,
        )
        try:
            body = _check(response, 200, 202)
        except CliError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            failed += 1
            continue
        if body.get("duplicate") and response.status_code == 200:
            print(f"{path}: already in {args.collection!r} as document {body['document_id']}")
        if body.get("job_id") and response.status_code == 202:  # 200: skipped, nothing new to follow
            jobs.append(Tracked(str(path), body["job_id"]))
    if jobs and not args.no_wait:
        await follow_all(client, jobs)
        failed += sum(job.status != "succeeded" for job in jobs)
    elif jobs:
        for job in jobs:
            print(f"{job.label}: job {job.job_id}")
    print(f"{len(files) - failed} of {len(files)} file(s) ingested into {args.collection!r}")
    return 1 if failed else 0


async def search(client: httpx.AsyncClient, args: argparse.Namespace) -> int:
    body = {"query": args.query, "collections": args.collection, "top_k": args.top_k, "mode": args.mode}
    if args.filters:
        try:
            body["filters"] = json.loads(args.filters)
        except ValueError as exc:
            raise CliError(f"--filters is not JSON: {exc}") from None
    results = _check(await client.post(f"{API}/search", json=body))["results"]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    if not results:
        print("no results")
    bold = sys.stdout.isatty()
    for rank, hit in enumerate(results, 1):
        where = " › ".join(hit["heading_path"])
        pages = f" p.{','.join(map(str, hit['pages']))}" if hit["pages"] else ""
        print(f"{rank:>2}. {_scores(hit['scores'])}  {hit['filename']}{pages}  [{hit['collection']}] {where}")
        print(f"    {snippet(hit['text'], hit['highlights'], bold=bold)}")
    return 0


def _scores(scores: dict[str, float | None]) -> str:
    """The sides that found the result, e.g. `fused 0.0325 (dense 0.712, lexical 9.81)`."""
    sides = ", ".join(
        f"{side} {scores[side]:.3g}" for side in ("dense", "lexical") if scores.get(side) is not None
    )
    return f"fused {scores['fused']:.4f} ({sides})" if scores.get("fused") is not None else sides


async def jobs(client: httpx.AsyncClient, args: argparse.Namespace) -> int:
    params = {"limit": args.limit, **{k: v for k in ("status", "collection") if (v := getattr(args, k))}}
    page = _check(await client.get(f"{API}/jobs", params=params))
    print(f"{'job':<26} {'type':<18} {'status':<10} {'stage':<8} {'progress':<24} collection")
    for job in page["items"]:
        progress = job.get("progress") or {}
        done = f"{progress.get('done')}/{progress.get('total')} {progress.get('unit')}" if progress else ""
        print(
            f"{job['id']:<26} {job['type']:<18} {job['status']:<10} {job.get('stage') or '':<8} "
            f"{done:<24} {job.get('collection') or ''}"
        )
    return 0


async def collections(client: httpx.AsyncClient, args: argparse.Namespace) -> int:
    page = _check(await client.get(f"{API}/collections", params={"limit": 1000}))
    print(f"{'collection':<32} {'status':<9} {'documents':>9} {'chunks':>8}  model")
    for c in page["items"]:
        print(
            f"{c['name']:<32} {c['status']:<9} {c['document_count']:>9} {c['chunk_count']:>8}  "
            f"{c['embedding_model']}"
        )
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="docsearch", description="Client of the docsearch API (/api/v1).")
    root.add_argument(
        "--url",
        default=os.environ.get("DOCSEARCH_URL", "http://127.0.0.1:8080"),
        help="the orchestrator API (DOCSEARCH_URL; default %(default)s)",
    )
    root.add_argument(
        "--api-key",
        default=os.environ.get("DOCSEARCH_API_KEY"),
        help="sent as Authorization: Bearer (DOCSEARCH_API_KEY)",
    )
    commands = root.add_subparsers(dest="command", required=True)

    p = commands.add_parser("ingest", help="upload files and folders, with a progress bar per job")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--collection", "-c", required=True)
    p.add_argument("--create", action="store_true", help="create the collection if it does not exist")
    p.add_argument("--on-duplicate", choices=["skip", "reject", "replace"], default="skip")
    p.add_argument("--metadata", help='JSON object kept on every document, e.g. \'{"team": "a"}\'')
    p.add_argument("--no-wait", action="store_true", help="print the job ids instead of following them")
    p.set_defaults(run=ingest)

    p = commands.add_parser("search", help="search one or more collections (hybrid, dense or lexical)")
    p.add_argument("query")
    p.add_argument("--collection", "-c", required=True, action="append", help="repeat for several")
    p.add_argument("--top-k", "-k", type=int, default=5)
    p.add_argument("--filters", help="JSON metadata filter, e.g. '{\"year\": 2024}'")
    p.add_argument(
        "--mode",
        choices=["hybrid", "dense", "lexical"],
        default="hybrid",
        help="hybrid (default): keywords and meaning fused; dense: meaning only; lexical: keywords only (BM25)",
    )
    p.add_argument("--json", action="store_true", help="print the raw results")
    p.set_defaults(run=search)

    p = commands.add_parser("jobs", help="recent jobs, newest first")
    p.add_argument("--status", choices=["queued", "running", "succeeded", "failed", "cancelled", "dead"])
    p.add_argument("--collection")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(run=jobs)

    p = commands.add_parser("collections", help="collections with document and chunk counts")
    p.set_defaults(run=collections)
    return root


async def run(argv: Sequence[str] | None = None, *, transport: httpx.AsyncBaseTransport | None = None) -> int:
    """Runs one command; tests pass an ASGI transport instead of a URL."""
    args = parser().parse_args(argv)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    async with httpx.AsyncClient(
        base_url=args.url, headers=headers, transport=transport, timeout=httpx.Timeout(60, connect=5)
    ) as client:
        try:
            return await args.run(client, args)
        except CliError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except httpx.TransportError as exc:
            print(f"error: cannot reach {args.url}: {exc}", file=sys.stderr)
            return 1


def main(argv: Sequence[str] | None = None) -> None:
    try:
        sys.exit(asyncio.run(run(argv)))
    except KeyboardInterrupt:
        sys.exit(130)
