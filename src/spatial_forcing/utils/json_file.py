"""Read a JSON file the user pointed at (or one of ours), turning every failure into a one-line SFError."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spatial_forcing.utils.errors import SFError


def read_json(path: str | Path) -> Any:
    """The parsed content of `path`; SFError naming the file if it is missing, a directory or not JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SFError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise SFError(f"{path}: is a directory, expected a JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SFError(f"{path}: invalid JSON ({err})") from None
    except OSError as err:
        raise SFError(f"{path}: cannot read ({err.strerror or err})") from None
