"""User-facing errors: their message is one line naming the file or setting and what is expected."""


class LntaError(Exception):
    """A mistake in the user's input or configuration; the CLIs print it as one line."""


class DataError(LntaError):
    """A dataset file or folder is missing, unreadable or inconsistent."""


class ConfigError(LntaError):
    """A configuration value is out of its valid range."""
