"""The one exception type for bad user input: the CLI prints its message as a single line."""


class SFError(Exception):
    """A user-facing error: bad option, file or configuration. The message names what and what was expected."""
