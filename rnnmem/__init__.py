"""rnnmem: see how recurrent networks use their memory.

The library behind the dashboard (importable without Streamlit)::

    import rnnmem
    model = rnnmem.load_model("gru")                  # shipped default, a directory, or hf://OWNER/NAME@REV
    model.suggest("parts of north af")                # top words for the word being typed
    rnnmem.connectivity(model, text, position)        # the article's connectivity, one output position
    rnnmem.connectivity_matrix(model, text)           # every position at once, with predictions
    rnnmem.accuracy_by_chars_seen(model, text)        # top-1/2/3 accuracy by characters of the word seen
    rnnmem.memory_profile(model, text, positions=2000)  # how far back it looks: context share, d50, d90
"""

from .analysis import (MAX_TEXT_CHARS, AccuracyResult, ConnectivityResult, Suggestions, accuracy_by_chars_seen,
                       connectivity, connectivity_matrix, suggest)
from .errors import InputError
from .memory import MemoryProfile, memory_profile
from .model import UNITS, AutocompleteRNN, ModelConfig, ModelFilesError
from .refs import ModelRefError, load_model, parse_model_ref
from .text import normalize

__all__ = [
    "MAX_TEXT_CHARS", "UNITS", "AccuracyResult", "AutocompleteRNN", "ConnectivityResult", "InputError",
    "MemoryProfile", "memory_profile", "ModelConfig", "ModelFilesError", "ModelRefError", "Suggestions", "accuracy_by_chars_seen", "connectivity",
    "connectivity_matrix", "load_model", "normalize", "parse_model_ref", "suggest",
]
