"""Errors a user can act on: each message names the thing at fault and the fix."""


class SSEUError(Exception):
    """Base class: bad input or configuration, reported without a traceback."""


class ManifestError(SSEUError):
    """A manifest (or a file it points to) is missing, malformed or unsafe."""


class AudioError(SSEUError):
    """An audio file cannot be read or is unusable (empty, silent, NaN)."""


class ConfigError(SSEUError):
    """An option, data file or model name is invalid."""
