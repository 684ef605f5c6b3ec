"""`sf teacher {pretrain,keys,cache,inspect}`: each action's options and work live in its own module."""

from __future__ import annotations

import argparse
import importlib

# action -> module exposing add_args(parser) and main(args) -> int
ACTIONS = {
    "pretrain": ("spatial_forcing.teachers.pretrain_cli",
                 "pretrain a mini teacher, or the student's own ViT (vit2d), on renders"),
    "keys": ("spatial_forcing.teachers.vggt.keys_cli", "print a teacher's state_dict key -> shape map"),
    "cache": ("spatial_forcing.teachers.cache_cli", "precompute teacher features beside a dataset"),
    "inspect": ("spatial_forcing.teachers.inspect_cli",
                "how position-dependent a teacher's targets are; linear probes of their content"),
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("teacher", help="teacher pretraining, inspection and feature caching")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, (module_name, help_text) in ACTIONS.items():
        action = actions.add_parser(name, help=help_text)
        module = importlib.import_module(module_name)
        module.add_args(action)
        action.set_defaults(func=module.main)
