"""rnnmem: see how recurrent networks use their memory.

The library behind the dashboard (importable without Streamlit)::

    import rnnmem
    model = rnnmem.load_model("gru")                  # shipped default, a directory, or hf://OWNER/NAME@REV
    model.suggest("parts of north af")                # top words for the word being typed
    rnnmem.connectivity(model, text, position)        # the article's connectivity, one output position
    rnnmem.connectivity_matrix(model, text)           # every position at once, with predictions
    rnnmem.accuracy_by_chars_seen(model, text)        # top-1/2/3 accuracy by characters of the word seen
    rnnmem.memory_profile(model, text, positions=2000)  # how far back it looks: context share, d50, d90
    loaded = rnnmem.load("hf://OWNER/NAME@main")      # the model with where it came from: loaded.model,
                                                      # .ref, .revision (the commit), .files_dir, .notice
"""

from .accuracy import AccuracyResult, accuracy_by_chars_seen
from .attribution import ConnectivityResult, connectivity, connectivity_matrix
from .errors import HubError, InputError, ModelFilesError, ModelRefError, RnnmemError
from .inputs import MAX_TEXT_CHARS
from .memory import MemoryProfile, memory_profile
from .model import AutocompleteRNN, ModelConfig
from .modelref import LoadedModel, ModelRef, parse_model_ref
from .refs import load, load_model
from .suggestions import Suggestions, suggest
from .text import normalize
from .units import UNITS

__all__ = [
    "MAX_TEXT_CHARS", "UNITS", "AccuracyResult", "AutocompleteRNN", "ConnectivityResult", "HubError", "InputError",
    "LoadedModel", "MemoryProfile", "ModelConfig", "ModelFilesError", "ModelRef", "ModelRefError", "RnnmemError",
    "Suggestions", "accuracy_by_chars_seen", "connectivity", "connectivity_matrix", "load", "load_model",
    "memory_profile", "normalize", "parse_model_ref", "suggest",
]
