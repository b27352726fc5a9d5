"""The exceptions that mean "the user asked for something that cannot be done", shown as one line."""

from .corpus import CorpusError


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
