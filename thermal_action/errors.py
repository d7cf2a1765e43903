"""Exceptions the toolkit raises for bad input; the CLI turns them into one error line."""


class ThermalActionError(Exception):
    """Base class for every error the toolkit raises on purpose."""


class _FileError(ThermalActionError, ValueError):
    """An error about one file: the message starts with the path, then the problem."""

    def __init__(self, path: object, problem: str | None = None) -> None:
        # Single-argument form keeps the class re-raisable by MMEngine's registry and
        # torch's DataLoader, which both call ``type(exc)(message)``.
        message = str(path) if problem is None else f"{path}: {problem}"
        super().__init__(message)
        self.problem = message if problem is None else problem  # the message without the path


class DataError(_FileError):
    """A recording or annotation file is missing, malformed or inconsistent."""


class ConfigError(ThermalActionError, ValueError):
    """A config name, path or option cannot be resolved."""


class CheckpointError(_FileError):
    """A checkpoint file is missing, unreadable, untrusted or does not fit the model."""
