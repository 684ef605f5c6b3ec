"""The one check of a layer index, for the two numberings of the project:

- student (VLA decoder) layers are 1-based, 1..N: layer k is the residual stream after decoder layer k,
  as Hugging Face's `hidden_states[k]` (the paper's and the reference code's numbering);
- teacher layers are 0-based and may count from the end, -N..N-1 (-1 = the last), as timm's
  `forward_intermediates`.

Both take any integer type and reject anything else (a bool, a float, a string) with the same one-line error.
"""

from __future__ import annotations

import operator

from spatial_forcing.utils.errors import SFError


def _check(k: object, lo: int, hi: int, what: str) -> int:
    try:  # any integer type (numpy, a 0-d tensor) but not a bool
        i = operator.index(k) if not isinstance(k, bool) else None
    except TypeError:
        i = None
    if i is None or not lo <= i <= hi:
        raise SFError(f"{what} {k!r} out of range; expected an integer in {lo}..{hi}")
    return i


def decoder_layer(k: object, num_layers: int, what: str = "layer") -> int:
    """`k` if it is a student layer 1..num_layers, else SFError naming `what`."""
    return _check(k, 1, num_layers, what)


def teacher_layer(k: object, num_layers: int, what: str = "layer") -> int:
    """`k` in -num_layers..num_layers-1 as its position 0..num_layers-1, else SFError naming `what`."""
    return _check(k, -num_layers, num_layers - 1, what) % num_layers
