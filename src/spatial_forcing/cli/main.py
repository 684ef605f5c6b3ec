"""The `sf` command. Each subcommand lives in its own module exposing `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.log import setup_logging

# Subcommand modules, in the order `sf --help` lists them.
COMMANDS = ["demo", "train", "eval", "generate", "expert_check", "teacher", "experiment", "summarize"]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with one sub-parser per command module."""
    parser = argparse.ArgumentParser(prog="sf", description="Spatial Forcing for VLA training.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"spatial_forcing.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, run, and turn an SFError into one line on stderr with exit code 2."""
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        return int(args.func(args) or 0)
    except SFError as err:
        print(f"sf {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        logging.getLogger("sf").warning("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
