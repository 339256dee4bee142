"""Command line: ``spikewidget demo | summary PROFILE | report PROFILE``.

Exit codes scripts can gate on: 0 healthy or warnings only, 1 a critical
pathology is present, 2 bad usage or an unreadable profile.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .errors import SpikeWidgetError

EXIT_OK, EXIT_CRITICAL, EXIT_ERROR = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikewidget",
        description="Find out why a spiking neural network will not train.",
        epilog="Exit codes: 0 no critical finding, 1 critical finding, 2 error.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="record a small buggy network and print its diagnosis")
    demo.add_argument("--out", default="out", help="folder for the saved profile (default: out)")
    demo.add_argument("--steps", type=int, default=12, help="training steps to simulate")
    for name, text in (("summary", "print the text report of a saved profile"),
                       ("report", "diagnose a saved profile")):
        p = sub.add_parser(name, help=text)
        p.add_argument("profile", help="a file written by SpikeProfiler.save()")
        p.add_argument("--epoch", type=int, default=None,
                       help="report one epoch (negative counts from the latest)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        result = run_demo(steps=args.steps, out_dir=args.out)
        return EXIT_CRITICAL if result.report.has_critical else EXIT_OK
    from .profiler import SpikeProfiler

    try:
        report = SpikeProfiler.load(args.profile).report(epoch=args.epoch)
    except (SpikeWidgetError, OSError) as exc:
        print(f"spikewidget: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(report.summary())
    return EXIT_CRITICAL if report.has_critical else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
