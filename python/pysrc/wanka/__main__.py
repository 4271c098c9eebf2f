"""``python -m wanka sweep FILE -o OUT [--shard I/N] [--ray ADDRESS]``: a sweep from the
command line through the Python package, what ``wanka sweep --ray`` runs. Prints the
summary as ``wanka sweep`` does; exit status 2 on a bad sweep or option."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import List, Optional

import wanka


def _shard(text: str) -> "tuple[int, int]":
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected I/N with 0 <= I < N, e.g. 0/4") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"{text!r}: expected I/N with 0 <= I < N, e.g. 0/4")
    return i, n


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wanka", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("sweep", help="every combination of a sweep file's axes, one row per point")
    run.add_argument("file", help="sweep file (TOML: base, fidelity, [axes])")
    run.add_argument("-o", "--out", required=True, help="output: .csv, .jsonl or .parquet")
    run.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N", help="run every N-th point from I")
    run.add_argument("--ray", metavar="ADDRESS", help='run the points as Ray tasks at ADDRESS ("auto", "local", ray://host:10001)')
    run.add_argument("--chunk-points", type=int, default=1024, metavar="N", help="points per Ray task")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)

    started = time.monotonic()
    try:
        summary = wanka.sweep(
            args.file,
            args.out,
            shard=args.shard,
            executor="ray" if args.ray else "local",
            chunk_points=args.chunk_points,
            ray_address=args.ray,
            progress=None if not args.json else False,
        )
    except wanka.ScenarioError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    elapsed_s = time.monotonic() - started
    index, count = args.shard
    if args.json:
        print(json.dumps({"summary": summary.to_dict(), "elapsed_s": elapsed_s, "out": args.out}, indent=2))
    else:
        shard = f" (shard {index}/{count})" if count > 1 else ""
        print(
            f"wanka sweep: {summary.points} points{shard} into {args.out}: {summary.written} written now, "
            f"{summary.resumed} kept from an earlier run, {summary.errors} with an error ({elapsed_s:.2f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
