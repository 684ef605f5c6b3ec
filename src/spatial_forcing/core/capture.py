"""Capture hidden states of named submodules with forward hooks (or pre-hooks), checkpoint-safe."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def get_submodule(model: nn.Module, path: str) -> nn.Module:
    """model.get_submodule with an error that names the missing path and nearby valid names."""
    try:
        return model.get_submodule(path)
    except AttributeError:
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        try:
            siblings = [n for n, _ in model.get_submodule(parent).named_children()] if parent else []
        except AttributeError:
            siblings = []
        hint = f"; children of {parent!r}: {siblings[:12]}" if siblings else ""
        raise ValueError(f"no submodule {path!r} in {type(model).__name__}{hint}") from None


def _in_backward() -> bool:
    """True while autograd runs a backward pass (e.g. activation-checkpoint recomputation)."""
    return torch._C._current_graph_task_id() != -1


def _first_tensor(value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    raise TypeError(f"hooked module produced {type(value).__name__}, expected a Tensor or a tuple of Tensors")


class TokenCapture:
    """Hooks `paths` (name -> dotted module path) and keeps the latest hidden state [B, T, D] of each.

    kind="output" hooks the module's output (e.g. a decoder layer: the residual stream after it);
    kind="input" hooks its first positional input (e.g. the next layer's input norm). Each forward
    overwrites the slot; calls made while autograd recomputes checkpointed activations in backward are
    ignored, so a capture never appends and `calls[name]` counts real forwards. Use as a context manager
    or call `remove()`: handles are always removed.
    """

    def __init__(self, model: nn.Module, paths: dict[Any, str], kind: str = "output"):
        if kind not in ("output", "input"):
            raise ValueError(f"capture kind must be 'output' or 'input', got {kind!r}")
        self.paths = dict(paths)
        self.kind = kind
        self.tensors: dict[Any, torch.Tensor] = {}
        self.calls: dict[Any, int] = {name: 0 for name in self.paths}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        try:
            for name, path in self.paths.items():
                module = get_submodule(model, path)
                if kind == "output":
                    handle = module.register_forward_hook(self._output_hook(name))
                else:
                    handle = module.register_forward_pre_hook(self._input_hook(name))
                self._handles.append(handle)
        except Exception:
            self.remove()
            raise

    def _store(self, name: Any, value: Any) -> None:
        if _in_backward():
            return
        self.tensors[name] = _first_tensor(value)
        self.calls[name] += 1

    def _output_hook(self, name: Any):
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            self._store(name, output)
        return hook

    def _input_hook(self, name: Any):
        def hook(module: nn.Module, args: Any) -> None:
            self._store(name, args)
        return hook

    def pop(self) -> dict[Any, torch.Tensor]:
        """Return the captured tensors and clear the slots (call once per training step)."""
        missing = [n for n in self.paths if n not in self.tensors]
        if missing:
            raise RuntimeError(f"hooks for {missing} did not fire during the forward pass")
        out, self.tensors = self.tensors, {}
        return out

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self) -> "TokenCapture":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()
