"""VLMAdapter: where a Hugging Face VLM backbone keeps its decoder layers and its visual tokens.

An adapter is bound to one model instance (bare, peft-wrapped, DDP-wrapped or nested in a policy) and
answers the three questions Spatial Forcing asks: which module path is "the residual stream after decoder
layer k" (k counted like HF `hidden_states` indices, 1..L), where the visual tokens of this batch sit
(a core TokenLayout), and what patch grid / how many views the student has.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn

from spatial_forcing.core.layout import TokenLayout
from spatial_forcing.vla.hf.layout import layout_from_input_ids, static_layout
from spatial_forcing.vla.hf.paths import find_hf_roots, first_existing, join
from spatial_forcing.utils.errors import SFError
from spatial_forcing.utils.layer_index import decoder_layer
from spatial_forcing.utils.loader import load_object

KINDS = ("output", "input")


@runtime_checkable
class VLMAdapter(Protocol):
    """What Spatial Forcing needs from a VLM backbone (see module docstring)."""

    family: str  # registry name, e.g. "paligemma"
    num_layers: int  # L: decoder layers actually present (LeRobot may truncate the stack)
    hidden_size: int  # width D of the residual stream (the SF projector's input)
    grid: tuple[int, int]  # (h, w) visual tokens per image on the decoder side
    views: int | None  # default number of images per sample (None: read from input_ids)

    def default_layer(self) -> int:
        """The layer the reference aligns, scaled to this depth (e.g. 12 of 18, 24 of 32)."""
        ...

    def layer_path(self, k: int, kind: str = "output") -> str:
        """Dotted path, in the wrapped model, to hook for the residual stream after decoder layer k."""
        ...

    def token_layout(self, input_ids: torch.Tensor | None = None, views: int | None = None) -> TokenLayout:
        """The visual-token layout of a batch (from its input_ids when the family uses image tokens)."""
        ...


class HFAdapter:
    """Shared machinery; a family sets the class attributes and `_grid` / `_hidden_size` if needed.

    kind="output" hooks `layers[k-1]` (forward hook; fires when the model calls the layer module).
    kind="input" pre-hooks `layers[k].input_layernorm` (or the final norm for k = L): use it for
    hand-rolled layer loops (LeRobot SmolVLA, pi0) where decoder-layer forward hooks never fire.
    Both give HF `hidden_states[k]` for k < L; for k = L HF applies the final norm, the hooks do not.
    """

    family = ""
    model_types: tuple[str, ...] = ()  # config.model_type values that identify the backbone root
    layers_paths: tuple[str, ...] = ()  # candidate paths of the decoder-layer ModuleList, relative to root
    depth_ratio = 0.75  # default_layer = round(depth_ratio * L)
    image_offset = 0  # first visual token when the layout is static (no image tokens in input_ids)

    def __init__(self, model: nn.Module, views: int | None = None, shift: int = 0):
        """`views`: images per sample for static layouts; `shift`: reference OpenVLA quirk (TokenLayout)."""
        if shift < 0:
            raise SFError(f"{self.family} adapter: shift must be >= 0, got {shift}")
        self.model = model
        self.prefix, self.root, self.layers_rel = self.find_root(model)
        self.layers_abs = join(self.prefix, self.layers_rel)
        layers = self.root.get_submodule(self.layers_rel)
        if not isinstance(layers, nn.ModuleList) or len(layers) == 0:
            raise SFError(f"{self.family} adapter: {self.layers_abs} is not a non-empty ModuleList")
        self.num_layers = len(layers)
        self.views = views
        self.shift = shift
        self.grid = self._grid()
        self.hidden_size = self._hidden_size()

    # -- family hooks ------------------------------------------------------------------------------
    @classmethod
    def candidates(cls, model: nn.Module) -> list[tuple[str, nn.Module]]:
        """Possible backbone roots inside `model`, outermost first: [(prefix, module)]."""
        return find_hf_roots(model, cls.model_types)

    @classmethod
    def find_root(cls, model: nn.Module) -> tuple[str, nn.Module, str]:
        """(prefix, backbone module, decoder-layer path relative to it): the outermost candidate that
        registers its decoder layers as a submodule (a PeftModel only forwards attributes, so it is
        skipped for its inner model); SFError when absent."""
        for prefix, root in cls.candidates(model):
            try:
                return prefix, root, first_existing(root, cls.layers_paths, "decoder layer list")
            except SFError:
                continue
        raise SFError(f"{cls.family}: no backbone with decoder layers at {list(cls.layers_paths)} inside "
                      f"{type(model).__name__}")

    @classmethod
    def matches(cls, model: nn.Module) -> bool:
        """True when this family's backbone is somewhere inside `model`."""
        try:
            cls.find_root(model)
            return True
        except SFError:
            return False

    def _text_config(self):
        return self.root.config.get_text_config()

    def _hidden_size(self) -> int:
        return int(self._text_config().hidden_size)

    def _grid(self) -> tuple[int, int]:
        vc = self.root.config.vision_config
        side = int(vc.image_size) // int(vc.patch_size)
        return side, side

    def image_token_id(self) -> int | None:
        cfg = self.root.config
        for key in ("image_token_id", "image_token_index"):
            if getattr(cfg, key, None) is not None:
                return int(getattr(cfg, key))
        return None

    # -- protocol ----------------------------------------------------------------------------------
    def default_layer(self) -> int:
        return max(1, min(self.num_layers, round(self.depth_ratio * self.num_layers)))

    def layer_path(self, k: int, kind: str = "output") -> str:
        k = decoder_layer(k, self.num_layers, f"{self.family}: layer")
        if kind not in KINDS:
            raise SFError(f"{self.family}: hook kind {kind!r}; expected one of {KINDS}")
        if kind == "output":
            return f"{self.layers_abs}.{k - 1}"
        if k < self.num_layers:
            return f"{self.layers_abs}.{k}.input_layernorm"
        norm = self.layers_rel.rsplit(".", 1)[0] + ".norm" if "." in self.layers_rel else "norm"
        first_existing(self.root, (norm,), "final norm")
        return join(self.prefix, norm)

    def token_layout(self, input_ids: torch.Tensor | None = None, views: int | None = None) -> TokenLayout:
        token_id = self.image_token_id()
        if input_ids is not None and token_id is not None:
            layout = layout_from_input_ids(input_ids, token_id, self.grid, shift=self.shift)
            if views is not None and views != layout.views:
                raise SFError(f"{self.family}: input_ids hold {layout.views} images per sample, "
                              f"expected {views}")
            return layout
        return static_layout(views or self.views, self.grid, self.image_offset, self.shift, self.family)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(layers={self.layers_abs!r} x{self.num_layers}, grid={self.grid}, "
                f"hidden={self.hidden_size}, views={self.views}, shift={self.shift})")


# family name -> "module:class". Aliases share a class. Third parties call register_adapter.
ADAPTERS: dict[str, str] = {
    "paligemma": "spatial_forcing.vla.hf.paligemma:PaliGemmaAdapter",
    "llava": "spatial_forcing.vla.hf.llava:LlavaAdapter",
    "prismatic": "spatial_forcing.vla.hf.prismatic:PrismaticAdapter",
    "smolvlm": "spatial_forcing.vla.hf.smolvlm:SmolVLMAdapter",
    "idefics3": "spatial_forcing.vla.hf.smolvlm:Idefics3Adapter",
}
_CUSTOM: dict[str, type] = {}


def register_adapter(name: str, cls: type) -> None:
    """Register an adapter class (constructor `cls(model, views=None, shift=0)`) under `name`."""
    _CUSTOM[name] = cls


def adapter_class(name: str) -> type:
    """The adapter class registered under `name`."""
    if name in _CUSTOM:
        return _CUSTOM[name]
    if name not in ADAPTERS:
        raise SFError(f"unknown VLM family {name!r}; expected one of {sorted(set(ADAPTERS) | set(_CUSTOM))}")
    return load_object(ADAPTERS[name], f"VLM family {name!r}")


def families() -> list[str]:
    """All registered family names."""
    return sorted(set(ADAPTERS) | set(_CUSTOM))


def detect_family(model: nn.Module) -> str:
    """The family whose adapter recognises `model` (first match in registry order)."""
    for name in [*_CUSTOM, *ADAPTERS]:
        if adapter_class(name).matches(model):
            return name
    raise SFError(f"no VLM adapter recognises {type(model).__name__}; pass family= one of {families()}")


def get_adapter(model: nn.Module, family: str | None = None, views: int | None = None,
                shift: int = 0) -> VLMAdapter:
    """Build the adapter for `model` (family auto-detected when None)."""
    return adapter_class(family or detect_family(model))(model, views=views, shift=shift)

