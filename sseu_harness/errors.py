"""Errors a user can act on: each message names the thing at fault and the fix."""


class SSEUError(Exception):
    """Base class: bad input or configuration, reported without a traceback."""


class ManifestError(SSEUError):
    """A manifest (or a file it points to) is missing, malformed or unsafe."""


class AudioError(SSEUError):
    """An audio file cannot be read or is unusable (empty, silent, NaN)."""


class ConfigError(SSEUError):
    """An option, data file or model name is invalid."""


class ModelGaveUp(SSEUError):
    """The model cannot answer any more (its server is dead or silent): fail its remaining clips at once.

    Raised by an adapter (e.g. the HTTP client's circuit breaker); the harness
    fails the model's remaining cases with this one message instead of trying
    every clip. Answers already given are stored, so a rerun resumes.
    """
