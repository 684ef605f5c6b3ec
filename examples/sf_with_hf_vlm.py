"""Add Spatial Forcing to a Hugging Face VLM training step, in a few lines.

Runs on CPU in seconds with a tiny *random* PaliGemma (the pi0 backbone) and the mini3d teacher with
random weights: the numbers only show the mechanics. For the full-scale recipe see examples/README.md.

    python examples/sf_with_hf_vlm.py
"""

import torch
from transformers import PaliGemmaConfig, PaliGemmaForConditionalGeneration

from spatial_forcing.core.config import AlignConfig
from spatial_forcing.core.spatial_forcing import SpatialForcing
from spatial_forcing.teachers.registry import build_teacher
from spatial_forcing.utils.errors import SFError
from spatial_forcing.vla.hf import HFSpatialForcing, get_adapter

torch.set_num_threads(1)
torch.manual_seed(0)
B, V, IMAGE_TOKEN = 2, 2, 99  # batch, camera views (agentview, wrist), image placeholder id

# 1. Any supported HF VLM (here a tiny random one; in practice from_pretrained, optionally peft-wrapped).
model = PaliGemmaForConditionalGeneration(PaliGemmaConfig(
    vision_config=dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=64,
                       num_hidden_layers=2, num_attention_heads=2, image_size=64, patch_size=8),
    text_config=dict(model_type="gemma", hidden_size=64, intermediate_size=128, num_hidden_layers=6,
                     num_attention_heads=2, num_key_value_heads=1, head_dim=32, vocab_size=128),
    image_token_index=IMAGE_TOKEN, projection_dim=64))

# 2. A frozen 3D teacher. mini3d with random weights here; VGGT-1B at full scale (README).
try:
    teacher = build_teacher("mini3d", weights="random")
    teacher_name = "mini3d (random weights)"
except (ImportError, SFError) as err:  # keep the example runnable without the teacher
    teacher, teacher_name = None, f"RANDOM TENSORS standing in for a teacher ({err})"

# 3. The adapter knows where the decoder layers and the image tokens are; SF hooks layer 2/3 deep.
adapter = get_adapter(model)
cfg = AlignConfig()  # alpha 0.5, sin-cos PE x0.1, LayerNorm projector: the reference defaults
teacher_dim = teacher.dim if teacher is not None else 48
sf = SpatialForcing(cfg, adapter.hidden_size, teacher_dim, [adapter.default_layer()])
module = HFSpatialForcing(model, sf, adapter)  # wrap *this* in DDP / accelerate.prepare
optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
print(f"{adapter}\nteacher: {teacher_name}; aligning decoder layer {sf.layers[0]} of {adapter.num_layers}")

# A fixed fake batch: images [B, V, 3, H, W] in [0, 1]; pi0-style prompt with the images first.
images = torch.rand(B, V, 3, 64, 64)
prompt = torch.randint(0, 90, (B, 8))
input_ids = torch.cat([torch.full((B, V * 64), IMAGE_TOKEN), prompt], dim=1)
labels = input_ids.masked_fill(input_ids == IMAGE_TOKEN, -100)
pixel_values = (images.flatten(0, 1) - 0.5) / 0.5  # SigLIP normalisation, one image per view

for step in range(5):
    with torch.no_grad():  # teacher features [B, V, h, w, C] of the same images (or read from a cache)
        feats = (teacher.forward_intermediates(images, [cfg.teacher_layer])[0] if teacher is not None
                 else torch.randn(B, V, 8, 8, teacher_dim, generator=torch.Generator().manual_seed(1)))
    out, align_loss, metrics = module(feats, input_ids=input_ids, pixel_values=pixel_values, labels=labels)
    loss = out.loss + cfg.alpha * align_loss  # task loss + alpha * alignment loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(f"step {step}: task loss {out.loss.item():.4f}  align loss {align_loss.item():.4f}  "
          f"cos {metrics['align_cos']:.3f}")

module.detach_hooks()  # inference / export: the model alone, untouched by SF
