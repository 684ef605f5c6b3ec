"""The `sf` command. Each subcommand lives in its own module exposing `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.log import setup_logging

# Subcommand modules, in the order `sf --help` lists them.
COMMANDS = ["demo", "train", "eval", "generate", "expert_check", "teacher", "experiment", "summarize", "probe",
            "report", "export"]


class _Parser(argparse.ArgumentParser):
    """Option errors in one line, like every other error of `sf` (the usage is one `-h` away).
    Sub-parsers are of the same class, so this holds for every subcommand."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with one sub-parser per command module."""
    parser = _Parser(prog="sf", description="Spatial Forcing for VLA training.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"spatial_forcing.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, run, and turn an SFError into one line on stderr with exit code 2 (as argparse does for a bad
    option; its exit status is returned too, so that callers get a code, not an exception, either way)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # -h/--help (0) or a bad option (2, already printed)
        return int(exit_.code or 0)
    setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except SFError as err:
        command = " ".join(filter(None, (args.command, getattr(args, "action", None))))  # "teacher cache"
        print(f"sf {command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        logging.getLogger("sf").warning("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
