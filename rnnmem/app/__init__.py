"""The dashboard's Streamlit side: everything the pages (``pages/*.py``) and ``app.py`` use, in one namespace.

Pages import only this package (``from rnnmem import app``); the logic they show lives in the library,
which never imports Streamlit. The modules here, by concern:

- ``runtime``: once per process (torch threads) and Streamlit's deep-link mode;
- ``messages``: one-line warnings under the page title, and ``plain`` escaping for user text;
- ``params``: link state (bound widgets) and the messages for unusable link values;
- ``models``: the settings file, the unit and model picker, cached model loads;
- ``cache``: cached analyses (suggestions, connectivity views, accuracy) and the text guards;
- ``memory``: the Memory page's cached profiles (with a progress bar), breakdowns and CSV/JSON downloads;
- ``widgets``: suggestion bars, model headings, the clickable connectivity text;
- ``exports``: the download menu under a chart or table (PNG, SVG, CSV, JSON).
"""

from .. import charts, memory_charts, memory_tables, recall, walkthrough
from ..breakdowns import BANDED_BY, BREAKDOWNS
from ..attribution_methods import IG_MAX_STEPS, IG_STEPS, IG_TOLERANCE, METHODS, value_name
from ..errors import InputError, SettingsError
from ..exports import matrix_frame
from ..settings import EVALUATION_SPLITS, read_evaluation, read_training
from ..suggestions import Suggestions
from ..text import normalize, words_read_before
from .cache import (MAX_EVAL_TEXT, MAX_RAW_TEXT, MAX_SUGGESTIONS, accuracy, attribution, connectivity,
                    connectivity_view, fit_text, suggestions, suggestions_by_prefix, usable_text)
from .exports import download_name, downloads
from .memory import (MAX_POSITIONS, RECALL_CHARS, band_accuracy, memory_profiles, recall_profiles,
                     recall_series, stored_memory)
from .memory import downloads as memory_downloads
from .messages import header, notify, plain, stop
from .models import (UNIT_LABELS, ShownModel, app_settings, load_models, require_units, selected_units, shipped_set,
                     sidebar)
from .params import (begin_run, check_bool, check_choice, check_choices, check_int, check_link, check_text, int_param,
                     keep_in_range, keep_link_short)
from .runtime import configure_runtime
from .widgets import (READ_MARK, READ_MEANING, connectivity_chart, explained_word, model_heading, models_caption,
                      picked_position, recall_note, suggestion_list)

# The article's examples (rnnmem.walkthrough), for the pages.
AUTOCOMPLETE_EXAMPLE = walkthrough.AUTOCOMPLETE_EXAMPLE
WALKTHROUGH_TEXT = walkthrough.PARAGRAPH
WALKTHROUGH_MOMENTS = walkthrough.MOMENTS

__all__ = [
    "AUTOCOMPLETE_EXAMPLE", "EVALUATION_SPLITS", "IG_MAX_STEPS", "IG_STEPS", "IG_TOLERANCE", "InputError",
    "MAX_EVAL_TEXT", "MAX_RAW_TEXT", "MAX_SUGGESTIONS", "METHODS", "READ_MARK", "READ_MEANING",
    "SettingsError", "ShownModel", "Suggestions",
    "UNIT_LABELS", "WALKTHROUGH_MOMENTS", "WALKTHROUGH_TEXT", "accuracy", "app_settings", "attribution", "begin_run",
    "charts", "check_bool", "check_choice", "check_choices", "check_int", "check_link", "check_text",
    "configure_runtime", "connectivity", "connectivity_chart", "connectivity_view", "download_name", "downloads",
    "explained_word", "fit_text", "header", "int_param", "keep_in_range", "keep_link_short", "load_models",
    "matrix_frame", "model_heading", "models_caption", "normalize", "notify", "picked_position", "plain",
    "read_evaluation", "read_training", "recall_note", "require_units", "selected_units", "shipped_set", "sidebar",
    "stop", "suggestion_list", "suggestions", "suggestions_by_prefix",
    "usable_text", "value_name", "walkthrough", "words_read_before",
    "BANDED_BY", "BREAKDOWNS", "MAX_POSITIONS", "band_accuracy", "memory_charts", "memory_downloads", "memory_profiles",
    "RECALL_CHARS", "recall", "recall_profiles", "recall_series", "stored_memory",
    "memory_tables",
]
