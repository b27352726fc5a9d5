"""The analyses of a trained model in one namespace: suggestions, connectivity, accuracy by characters seen.

Each lives in its own module (rnnmem.suggestions, rnnmem.attribution, rnnmem.accuracy, over the checked
inputs of rnnmem.inputs); this one gathers them for callers that want them all. Everything here is
read-only on the model: no ``.backward()``, no parameter or buffer changes, so one cached model object can
serve many users at once.
"""

from .accuracy import AccuracyAccumulator, AccuracyResult, accuracy_by_chars_seen, sample_text_from_vocabulary
from .attribution import (ConnectivityResult, connectivity, connectivity_matrix, connectivity_partial, desired_ids,
                          scale_by_max)
from .inputs import (MAX_K, MAX_TEXT_CHARS, PreparedText, check_k, check_position, prepare_text, text_sequences,
                     text_words, word_spans)
from .suggestions import Suggestions, predictions, suggest, suggest_each_prefix
from .text import chars_seen_of

__all__ = [
    "AccuracyAccumulator", "AccuracyResult", "ConnectivityResult", "MAX_K", "MAX_TEXT_CHARS", "PreparedText",
    "Suggestions", "accuracy_by_chars_seen", "chars_seen_of", "check_k", "check_position", "connectivity",
    "connectivity_matrix", "connectivity_partial", "desired_ids", "predictions", "prepare_text",
    "sample_text_from_vocabulary", "scale_by_max", "suggest", "suggest_each_prefix", "text_sequences",
    "text_words", "word_spans",
]
