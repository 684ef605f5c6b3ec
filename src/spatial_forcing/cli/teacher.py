"""`sf teacher {pretrain,keys,cache,inspect}`: each action is a config dataclass (its options) with a `run()`
method (its work), in its own module."""

from __future__ import annotations

import argparse

from spatial_forcing.utils.dataclass_cli import add_dataclass_args, build_config, overrides_from_args
from spatial_forcing.utils.loader import load_object

# action -> (its config class "module:Class", help, fields given as arguments rather than options)
ACTIONS = {
    "pretrain": ("spatial_forcing.teachers.pretrain_cli:TeacherPretrainConfig",
                 "pretrain a mini teacher, or the student's own ViT (vit2d), on renders", ()),
    "keys": ("spatial_forcing.teachers.vggt.keys_cli:TeacherKeysConfig",
             "print a teacher's state_dict key -> shape map", ("name",)),
    "cache": ("spatial_forcing.teachers.cache_cli:TeacherCacheConfig",
              "precompute teacher features beside a dataset", ()),
    "inspect": ("spatial_forcing.teachers.inspect_cli:TeacherInspectConfig",
                "how position-dependent a teacher's targets are; linear probes of their content", ()),
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("teacher", help="teacher pretraining, inspection and feature caching")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, (spec, help_text, positional) in ACTIONS.items():
        cls = load_object(spec)
        action = actions.add_parser(name, help=help_text, description=cls.__doc__)
        add_dataclass_args(action, cls, positional=positional)
        action.set_defaults(func=lambda args, cls=cls: build_config(cls, overrides_from_args(args)).run())
