"""Spatial Forcing for Hugging Face VLM backbones (PaliGemma/pi0, LLaVA/OpenVLA-OFT, SmolVLM/SmolVLA).

    adapter = get_adapter(model)                        # family auto-detected; works through peft / DDP
    sf = SpatialForcing(cfg, adapter.hidden_size, teacher.dim, [adapter.default_layer()])
    module = HFSpatialForcing(model, sf, adapter)       # wrap this in DDP / accelerate
    out, align_loss, metrics = module(teacher_feats, input_ids=..., pixel_values=..., labels=...)
"""

from spatial_forcing.vla.hf.adapters import (
    ADAPTERS,
    HFAdapter,
    VLMAdapter,
    adapter_class,
    detect_family,
    families,
    get_adapter,
    register_adapter,
)
from spatial_forcing.vla.hf.layout import layout_from_input_ids, static_layout
from spatial_forcing.vla.hf.paths import find_hf_roots, resolve_layer_path
from spatial_forcing.vla.hf.train_module import HFSpatialForcing, attach, set_layout

__all__ = [
    "ADAPTERS", "HFAdapter", "VLMAdapter", "adapter_class", "detect_family", "families", "get_adapter",
    "register_adapter", "layout_from_input_ids", "static_layout", "find_hf_roots", "resolve_layer_path",
    "HFSpatialForcing", "attach", "set_layout",
]
