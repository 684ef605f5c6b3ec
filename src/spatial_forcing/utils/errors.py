"""The one exception type for bad user input: the CLI prints its message as a single line."""


class SFError(Exception):
    """A user-facing error: bad option, file or configuration. The message names what and what was expected."""


def detail(err: BaseException) -> str:
    """One informative line of a library exception for an SFError message (torch's load_state_dict puts a
    header line ending in ':' before the line that says what mismatched)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()] or [type(err).__name__]
    return lines[1 if len(lines) > 1 and lines[0].endswith(":") else 0][:200]
