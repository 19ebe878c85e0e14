"""``python -m lnta.report DIR... [--out DIR]``: runs and multirun folders -> Table 1 and Fig. 4/5 style outputs.

The logic lives in :mod:`lnta.reporting.report`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lnta.errors import DataError
from lnta.text import counted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lnta.report", description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="run or multirun folders")
    parser.add_argument("--out", type=Path, default=Path("outputs/report"), help="where to write (default %(default)s)")
    args = parser.parse_args(argv)
    from lnta.reporting.report import markdown, report

    try:
        result = report(args.dirs, args.out)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    print(markdown(result["summary"], result["differs"]))
    print(f"{counted(len(result['runs']), 'run')} -> {args.out} "
          f"(report.md, table.csv, runs.csv, {len(result['plots'])} plots)")


if __name__ == "__main__":
    main()
