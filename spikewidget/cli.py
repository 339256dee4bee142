"""Command line: ``spikewidget demo | summary PROFILE | report PROFILE``.

Exit codes scripts can gate on: 0 healthy or warnings only, 1 a critical
pathology is present, 2 bad usage, an unreadable profile or an output that cannot
be written (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO

from .core.errors import SpikeWidgetError

EXIT_OK, EXIT_CRITICAL, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    """A command line that cannot be carried out (exit 2, one line)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2 (argparse prints usage)
        raise UsageError(f"{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="spikewidget",
        description="Find out why a spiking neural network will not train.",
        epilog="Exit codes: 0 no critical finding, 1 critical finding, 2 error.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
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
        p.add_argument("--max-bytes", type=int, default=None, metavar="N",
                       help="load a profile that needs more than the default 4 GiB "
                            "(a file you trust)")
        if name == "report":
            p.add_argument("--html", metavar="OUT", help="write the offline HTML dashboard")
            p.add_argument("--png", metavar="OUT.png",
                           help="write a PNG of the dashboard views (the name must end "
                                "in .png)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    try:
        args = _parser().parse_args(argv)
        if args.command == "demo":
            return _demo(args)
        return _report(args)
    except (UsageError, SpikeWidgetError, OSError, ImportError) as exc:
        _emit(f"spikewidget: {_one_line(exc)}", sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug must not read as exit 1, "critical finding"
        _emit(f"spikewidget: internal error, please report it: {type(exc).__name__}: "
              f"{_one_line(exc)}", sys.stderr)
        return EXIT_ERROR


def _report(args: argparse.Namespace) -> int:
    from .profiler import SpikeProfiler

    html, png = getattr(args, "html", None), getattr(args, "png", None)
    if html is not None:
        _check_output(html, "--html")
    if png is not None:
        _check_output(png, "--png")
        if not png.lower().endswith(".png"):
            raise UsageError(f"--png writes PNG files; the name must end in .png, got "
                             f"{png!r}")
    profiler = SpikeProfiler.load(args.profile, max_bytes=args.max_bytes)
    report = profiler.report(epoch=args.epoch)
    _emit(report.summary(), sys.stdout)
    if html is not None:
        epoch = None if args.epoch is None else report.epochs[0]
        profiler.to_html(html, epoch=epoch)
        _emit(f"HTML dashboard written to {html}", sys.stdout)
    if png is not None:
        import matplotlib

        matplotlib.use("Agg")
        report.plot(profiler=profiler).savefig(png, dpi=110, format="png")
        _emit(f"PNG written to {png}", sys.stdout)
    return EXIT_CRITICAL if report.has_critical else EXIT_OK


def _check_output(path: str, option: str) -> None:
    """Refuse, before any work, an output file that cannot be written."""
    if not path:
        raise UsageError(f"{option} needs a file name, got ''")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{option} {path!r}: the folder {folder!r} does not exist")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 400 else f"{text[:397]}..."


def _emit(text: str, stream: TextIO) -> None:
    """Print ``text``; characters the stream cannot encode are shown escaped
    (``\\u2192``), so a layer's name can never crash the report."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        text = text.encode(encoding, "backslashreplace").decode(encoding, "replace")
    print(text, file=stream)


def _demo(args: argparse.Namespace) -> int:
    """The story with torch and snnTorch; the NumPy demo with --quick or without them."""
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out!r} is a file; give a folder")
    os.makedirs(args.out, exist_ok=True)  # fails now, not after the training
    if not args.quick:
        print("spikewidget demo: loading torch and snnTorch ...", flush=True)
        try:
            import snntorch  # noqa: F401
            import torch  # noqa: F401
        except ImportError:
            _emit("spikewidget: torch and snnTorch are not installed; running the quick "
                  "NumPy demo instead (make setup installs them)", sys.stderr)
        else:
            from .demo.story import run_story

            run_story(out_dir=args.out)  # finding the planted bugs is its job: exit 0
            return EXIT_OK
    from .demo.simulated import run_demo

    run_demo(out_dir=args.out)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
