"""Teacher targets for training: computed once per dataset frame ("cache") or every step ("online")."""

from __future__ import annotations

import logging

import torch
from tqdm import tqdm

from spatial_forcing.teachers.base import Teacher

log = logging.getLogger(__name__)


@torch.no_grad()
def teacher_features(teacher: Teacher, images_u8: torch.Tensor, layer: int, batch_size: int = 64,
                     progress: bool = True) -> torch.Tensor:
    """uint8 [N, V, 3, H, W] -> features [N, V, h, w, C] (fp16) of one teacher layer, all views per call."""
    out = []
    for start in tqdm(range(0, len(images_u8), batch_size), desc="teacher features", disable=not progress,
                      leave=False):
        imgs = images_u8[start : start + batch_size].float().div_(255.0)
        out.append(teacher.forward_intermediates(imgs, [layer])[0].to(torch.float16))
    return torch.cat(out)


class TargetProvider:
    """Gives teacher features for a batch: from the per-frame cache, or by running the teacher."""

    def __init__(self, teacher: Teacher, layer: int, mode: str, images_u8: torch.Tensor | None = None,
                 cached: torch.Tensor | None = None):
        if not -teacher.num_layers <= layer < teacher.num_layers:
            raise ValueError(f"align.teacher_layer={layer} out of range for teacher {teacher.name!r} with "
                             f"{teacher.num_layers} layers")
        self.teacher, self.layer, self.mode = teacher, layer, mode
        self.cache = cached
        if mode == "cache" and self.cache is None:
            log.info("computing teacher features for %d frames (teacher %s, layer %d)", len(images_u8),
                     teacher.name, layer)
            self.cache = teacher_features(teacher, images_u8, layer)

    def __call__(self, positions: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """positions: dataset positions of the batch; images [B, V, 3, H, W] in [0, 1] (online mode)."""
        if self.mode == "cache":
            return self.cache[positions].float()
        with torch.no_grad():
            return self.teacher.forward_intermediates(images, [self.layer])[0].float()
