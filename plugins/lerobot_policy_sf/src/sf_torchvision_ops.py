"""Let PyPI's torchvision import beside our CPU torch, for lerobot (the install option chosen in the README).

PyPI's torchvision 0.28.0 is built against the CUDA build of torch 2.13: beside the CPU build its compiled
operators fail to load, and `import torchvision` then stops at `operator torchvision::nms does not exist`
(its meta registrations of `nms` and `qnms` assume the operators exist). Declaring those two schemas with
`torch.library` first is enough: everything lerobot uses of torchvision (transforms, io of images) is Python.
When the compiled operators do load (a matching torchvision), nothing is declared.

`scripts/setup.sh lerobot` writes a one-line `.pth` file into the venv calling `install()`, which only puts a
finder on `sys.meta_path` (torch is not imported at interpreter start): the declaration runs when something
first imports torchvision.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

SCHEMAS = {  # the operators torchvision's meta registrations use without checking they exist
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor",
}
_LIBRARY = []  # keeps the torch.library.Library alive: its definitions go away with it


def _has_op(name: str) -> bool:
    import torch

    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


def _native_ops_load() -> bool:
    """True if torchvision's compiled extension loads beside this torch (its operators are then real)."""
    import torch

    spec = importlib.util.find_spec("torchvision")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for lib in (p for folder in folders for p in Path(folder).glob("_C*.so")):
        try:
            torch.ops.load_library(str(lib))
            return True
        except OSError:
            return False
    return False


def declare_missing_ops() -> list[str]:
    """Declare the schemas of SCHEMAS that neither torchvision's extension nor an earlier call provides."""
    import torch

    if _native_ops_load():
        return []
    missing = [name for name in SCHEMAS if not _has_op(name)]
    if missing:
        lib = torch.library.Library("torchvision", "DEF")
        for name in missing:
            lib.define(SCHEMAS[name])
        _LIBRARY.append(lib)
    return missing


class _BeforeTorchvision(importlib.abc.MetaPathFinder):
    """Runs `declare_missing_ops` once, just before the first `import torchvision`, then steps aside."""

    def find_spec(self, name, path, target=None):  # noqa: ANN001 - importlib's signature
        if name == "torchvision":
            sys.meta_path.remove(self)
            declare_missing_ops()
        return None


def install() -> None:
    """Put the finder on sys.meta_path (idempotent); called from the venv's .pth file."""
    if "torchvision" not in sys.modules and not any(isinstance(f, _BeforeTorchvision) for f in sys.meta_path):
        sys.meta_path.insert(0, _BeforeTorchvision())
