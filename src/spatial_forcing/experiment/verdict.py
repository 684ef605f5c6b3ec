"""The verdict on a claim from paired 95% intervals, by one stated rule."""

from __future__ import annotations

SUPPORTED, NOT_SUPPORTED, UNCLEAR = "supported", "not supported", "unclear"
RULE = ("For each compared variant, the two-sided 95% Student-t interval of the paired difference (variant - the "
        "claim's reference, over the seeds both finished) is read in the direction the paper claims. The claim is "
        "**supported** if every interval excludes 0 on the claimed side, **not supported** if some interval "
        "excludes 0 on the other side, and **unclear** otherwise (an interval containing 0, or fewer than 2 "
        "paired seeds).")


def interval_verdict(ci: list[float] | None, direction: int) -> str:
    """One comparison: `direction` +1 = the variant is claimed higher than the reference, -1 = lower."""
    if not ci:
        return UNCLEAR
    lo, hi = ci[0] * direction, ci[1] * direction
    lo, hi = min(lo, hi), max(lo, hi)
    if lo > 0:
        return SUPPORTED
    if hi < 0:
        return NOT_SUPPORTED
    return UNCLEAR


def claim_verdict(verdicts: list[str]) -> str:
    """The claim's verdict from those of its comparisons."""
    if not verdicts:
        return UNCLEAR
    if NOT_SUPPORTED in verdicts:
        return NOT_SUPPORTED
    return SUPPORTED if all(v == SUPPORTED for v in verdicts) else UNCLEAR
