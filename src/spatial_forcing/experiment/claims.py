"""The paper's claims, in one place: what each says, the paper's figure, what we measure and in which direction.

A plan answers claims with its optional `"claims"` key: claim id -> the variants compared, the first being the
claim's reference (e.g. `"success": ["baseline", "sf"]`). `sf report` writes one section per claim below.
Sources: the Spatial Forcing paper (ICLR 2026) as summarised in issue 9 and docs/report.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    title: str  # section title
    paper: str  # the paper's statement and figure, in words
    paper_numbers: dict[str, str]  # the paper's numbers, row label -> value (a table in the report)
    measure: str  # "success" | "convergence" | "fractions" | "probe": which of our numbers answers it
    direction: int  # +1: the compared variants are claimed higher than the reference, -1: lower
    plan: str  # the shipped plan that measures it (configs/experiments/...)
    suggested: tuple[str, ...]  # variants that plan compares for it, reference first (the "not measured" hint)


# The ablations are measured on the lift rung, where the baseline learns in 2,000 steps (on task 8 at 800
# steps, `claims_ablations.json`, every variant was at its success floor).
ABLATIONS = "configs/experiments/claims_ablations_lift.json"

CLAIMS: dict[str, Claim] = {
    "success": Claim(
        "SF raises success", "Spatial Forcing raises the average LIBERO success of OpenVLA-OFT.",
        {"OpenVLA-OFT baseline (LIBERO avg)": "97.1", "+ Spatial Forcing (LIBERO avg)": "98.5"},
        "success", +1, "configs/experiments/claims_main.json", ("baseline", "sf")),
    "convergence": Claim(
        "SF converges faster", "SF reaches the baseline's final success 3.8x sooner (training steps).",
        {"speed-up in steps to the baseline's final success": "3.8x"},
        "convergence", -1, "configs/experiments/convergence_lift.json", ("baseline", "sf")),
    "data_efficiency": Claim(
        "SF is data-efficient", "With 5% of the demonstrations SF still reaches 75.8% LIBERO success.",
        {"SF, 5% of the data (LIBERO avg)": "75.8", "SF, 100% of the data": "98.5"},
        "fractions", +1, "configs/experiments/claims_data.json", ("baseline", "sf")),
    "teacher": Claim(
        "3D teacher beats 2D teachers", "VGGT (3D) targets beat SigLIP and DINOv2 (2D) targets; here "
        "mini3d and the oracle 3D target vs the size-matched 2D mini2d.",
        {"VGGT target": "best", "SigLIP / DINOv2 targets": "lower"},
        "success", +1, ABLATIONS, ("sf_mini2d", "sf", "sf_oracle3d")),
    "pe": Claim(
        "the target's position embedding matters", "Adding the fixed 2D PE to the target helps, most on "
        "long-horizon tasks.", {"with PE": "higher (LIBERO-Long)", "without PE": "lower"},
        "success", +1, ABLATIONS,
        ("sf_paper_target_no_pe", "sf_paper_target")),
    "layer": Claim(
        "a middle-deep layer is best", "Aligning decoder layer 24 of 32 beats the first and the last layer.",
        {"layer 24 of 32": "best", "first / last layer": "lower"},
        "success", -1, ABLATIONS, ("sf", "sf_layer_first", "sf_layer_last")),
    "adaptive": Claim(
        "an adaptive mix of layers", "A learned softmax mix of layers is at least as good as one layer.",
        {"adaptive mix (LIBERO avg)": "98.1"},
        "success", +1, ABLATIONS, ("sf", "sf_adaptive")),
    "alpha": Claim(
        "alpha = 0.5", "The alignment weight 0.5 is the paper's choice; 0.1 and 1.0 are not better.",
        {"alpha (paper and released code)": "0.5"},
        "success", -1, ABLATIONS, ("sf", "sf_alpha0.1", "sf_alpha1.0")),
    "norm": Claim(
        "LayerNorm vs BatchNorm projector", "The paper's text says BatchNorm; the released code uses "
        "LayerNorm, which the released checkpoints were trained with (claim: LayerNorm is at least as good).",
        {"released code": "LayerNorm", "paper text": "BatchNorm"},
        "success", +1, ABLATIONS, ("sf_batchnorm", "sf")),
    "schedule": Claim(
        "stop aligning early (HASTE)", "HASTE found that switching REPA off after part of training beats "
        "aligning to the end; `align.until_step` tests it for SF.", {"HASTE (REPA, image generation)": "better"},
        "success", +1, ABLATIONS, ("sf", "sf_until_half")),
    "depth_probe": Claim(
        "aligned tokens hold more depth", "A DPT probe trained on the frozen student's tokens (aligned layer "
        "and the 3 before it) predicts depth better for SF than for the baseline (lower AbsRel).",
        {"probe depth loss": "lower for SF (Fig. 3, qualitative)"},
        "probe", -1, "sf probe --policy RUN/policy --dataset HELDOUT --out DIR", ("baseline", "sf")),
}
