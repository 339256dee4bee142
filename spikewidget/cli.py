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
    demo = sub.add_parser(
        "demo", help="replay the debugging story: train the story's snnTorch network buggy, "
                     "fixed step by step, then healthy, and print each diagnosis")
    demo.add_argument("--out", default="out",
                      help="folder for profiles, HTML dashboards and PNGs (default: out)")
    demo.add_argument("--quick", action="store_true",
                      help="a seconds-long NumPy-only demo instead of the full story")
    for name, text in (("summary", "print the text report of a saved profile"),
                       ("report", "diagnose a saved profile; optionally write HTML/PNG")):
        p = sub.add_parser(name, help=text)
        p.add_argument("profile", help="a file written by SpikeProfiler.save()")
        p.add_argument("--epoch", type=int, default=None,
                       help="report one epoch (negative counts from the latest)")
        if name == "report":
            p.add_argument("--html", metavar="OUT", help="write the offline HTML dashboard")
            p.add_argument("--png", metavar="OUT", help="write a PNG of the dashboard views")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    from .profiler import SpikeProfiler

    try:
        profiler = SpikeProfiler.load(args.profile)
        report = profiler.report(epoch=args.epoch)
    except (SpikeWidgetError, OSError) as exc:
        print(f"spikewidget: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(report.summary())
    if getattr(args, "html", None):
        epoch = None if args.epoch is None else report.epochs[0]
        profiler.to_html(args.html, epoch=epoch)
        print(f"HTML dashboard written to {args.html}")
    if getattr(args, "png", None):
        import matplotlib

        matplotlib.use("Agg")
        report.plot(profiler=profiler).savefig(args.png, dpi=110)
        print(f"PNG written to {args.png}")
    return EXIT_CRITICAL if report.has_critical else EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    """The story with torch and snnTorch; the NumPy demo with --quick or without them."""
    if not args.quick:
        print("spikewidget demo: loading torch and snnTorch ...", flush=True)
        try:
            import snntorch  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            print("spikewidget: torch and snnTorch are not installed; running the quick "
                  "NumPy demo instead (make setup installs them)", file=sys.stderr)
        else:
            from .story import run_story

            run_story(out_dir=args.out)  # finding the planted bugs is its job: exit 0
            return EXIT_OK
    from .demo import run_demo

    run_demo(out_dir=args.out)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
