"""Logging set-up shared by the CLI and benchmarks."""

import logging


def setup_logging(verbose: bool = False) -> None:
    """Configure the root logger once: time, level, module name, message."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
