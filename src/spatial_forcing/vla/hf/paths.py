"""Find Hugging Face backbones and module paths inside wrappers (peft LoRA, DDP, LeRobot policies)."""

from __future__ import annotations

from torch import nn

from spatial_forcing.utils.errors import SFError


def module_names(model: nn.Module) -> set[str]:
    """Registered dotted names of every submodule (wrappers that forward getattr do not add names)."""
    return {name for name, _ in model.named_modules()}


def find_hf_roots(model: nn.Module, model_types: tuple[str, ...]) -> list[tuple[str, nn.Module]]:
    """Submodules (pre-order) whose `config.model_type` is in `model_types`: [(dotted prefix, module)].

    The prefix is "" for a bare HF model, "base_model.model" under a peft `PeftModel` (which itself exposes
    the base config, hence a list), "module" under DDP, "paligemma" inside LeRobot's
    `PaliGemmaWithExpertModel`, "vlm" inside `SmolVLMWithExpertModel`, ...
    """
    return [(name, module) for name, module in model.named_modules()
            if getattr(getattr(module, "config", None), "model_type", None) in model_types]


def join(prefix: str, path: str) -> str:
    """Join two dotted module paths, either of which may be empty."""
    return ".".join(p for p in (prefix, path) if p)


def resolve_layer_path(model: nn.Module, path: str) -> str:
    """Map a path written for the bare HF model to the same module's path inside `model`.

    `path` is returned unchanged when it exists; otherwise the unique module whose name ends with
    "." + path is used (peft adds "base_model.model.", DDP "module.", ...). Raises SFError when the path
    is missing or ambiguous.
    """
    if path in module_names(model):
        return path
    hits = [name for name, _ in model.named_modules() if name.endswith("." + path)]
    if not hits:
        raise SFError(f"module path {path!r} not found in {type(model).__name__} "
                      "(nor under any wrapper prefix)")
    shortest = min(hits, key=len)
    if sum(len(h) == len(shortest) for h in hits) > 1:
        raise SFError(f"module path {path!r} is ambiguous in {type(model).__name__}: {sorted(hits)[:4]}")
    return shortest


def first_existing(root: nn.Module, candidates: tuple[str, ...], what: str) -> str:
    """The first of `candidates` (paths relative to `root`) that is a registered submodule of `root`."""
    names = module_names(root)
    for path in candidates:
        if path in names:
            return path
    raise SFError(f"{type(root).__name__}: no {what} at any of {list(candidates)}")
