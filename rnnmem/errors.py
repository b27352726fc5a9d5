"""The exceptions that mean "the user asked for something that cannot be done", shown as one line."""

from .corpus import CorpusError


def quoted(value: str, limit: int = 60) -> str:
    """``value`` as a Python literal for a one-line message, at most about ``limit`` characters long (an
    unprintable character's escape counts in full)."""
    shown = repr(value[:limit])
    return shown if len(shown) <= limit + 2 else shown[:limit + 1] + "…" + shown[0]


class InputError(ValueError):
    """Bad user input to an analysis (empty text, position out of range, text too long)."""


def _hub_errors() -> tuple:
    try:
        from .hub import HubError

        return (HubError,)
    except ImportError:
        return ()


# ValueError covers ModelRefError, ModelFilesError (rnnmem.model) and InputError; FileNotFoundError/FileExistsError
# cover --resume and --out mistakes.
USER_ERRORS = (ValueError, CorpusError, FileNotFoundError, FileExistsError, *_hub_errors())
