"""The package's errors: one hierarchy, at the bottom of the package (this module imports nothing of it).

Every failure that means "what was asked cannot be done" is an ``RnnmemError`` whose message is one line
for users; the CLI prints it as ``error: …`` and exits with 2, the app shows it under the page title.
Anything else (a ``ValueError`` from NumPy, a ``TypeError`` in our own code) is a bug and is never caught
as a user error. Each class also derives from the built-in its callers caught before it existed
(``ValueError`` or ``RuntimeError``), so ``except ValueError`` around ``rnnmem.suggest`` still works.
"""

from __future__ import annotations

from pathlib import Path


def quoted(value: str, limit: int = 60) -> str:
    """``value`` as a Python literal for a one-line message, at most about ``limit`` characters long (an
    unprintable character's escape counts in full)."""
    shown = repr(value[:limit])
    return shown if len(shown) <= limit + 2 else shown[:limit + 1] + "…" + shown[0]


class RnnmemError(Exception):
    """Something a user asked for cannot be done. The message is one line, for users."""


class InputError(RnnmemError, ValueError):
    """Bad user input: empty text, a position out of range, a text too long, conflicting CLI options."""


class ModelRefError(RnnmemError, ValueError):
    """A model reference that cannot be parsed or resolved."""


class ModelFilesError(RnnmemError, ValueError):
    """A model directory is missing files, or its files do not match each other."""


class UnreadableWeightsError(ModelFilesError):
    """A weights file that is not safetensors at all (truncated, corrupted, another format). ``path`` is
    the file, so that a cache can drop it."""

    def __init__(self, message: str, path: Path):
        super().__init__(message)
        self.path = path


class CorpusError(RnnmemError, RuntimeError):
    """A corpus could not be found, downloaded, read or verified."""


class HubError(RnnmemError, RuntimeError):
    """Loading from or publishing to the Hugging Face Hub failed. The message never contains the token."""


class SettingsError(RnnmemError, ValueError):
    """The app's settings file, or a file beside a model (evaluation, training log), is unusable."""


class ModelLimitError(RnnmemError, RuntimeError):
    """A visitor's model was not loaded because a limit on visitors' models was reached."""


class PackError(RnnmemError, ValueError):
    """Parts that cannot be reassembled into a model directory, or that could not come back in one call."""


# What the CLI reports as one line: the package's own errors, and the --resume / --out mistakes.
USER_ERRORS = (RnnmemError, FileNotFoundError, FileExistsError)
