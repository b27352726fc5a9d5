"""Which model serves each unit: the settings file, the sidebar's unit and model picker, and the cached
loads (the configured and shipped models once per process; visitors' own choices bounded, rnnmem.visitor_models).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st

from ..errors import ModelLimitError, ModelRefError, SettingsError, quoted
from ..model import AutocompleteRNN
from ..modelref import LoadedModel, parse_model_ref
from ..refs import load, load_with_fallback, shipped_dir
from ..settings import AppSettings, check_override, default_settings, load_settings, settings_path
from ..units import REGISTRY, UNIT_NAMES, UNITS
from ..visitor_models import VisitorModels
from .messages import notify, plain, stop
from .params import SET_KEY, UNITS_KEY, check_choice, check_choices, model_key, raw_param

MAX_REF_BOX = 300  # characters a sidebar model box takes
_PINS_KEY = "_rnnmem_pins"
UNIT_LABELS = {unit.id: unit.label for unit in REGISTRY.values()}  # what the picker shows and links carry
# The shipped sets a visitor can choose between, by reference prefix (rnnmem.modelref.SHIPPED_SETS): the
# small CPU-trained models, or the article-size ones trained on a GPU (rnnmem/weights/article/) where this
# installation has them. The options are their own labels: a bound widget writes its labels into the link
# (?weights=Article-size).
SHIPPED_SET_PREFIXES = {"CPU-trained": "", "Article-size": "article/"}
DEFAULT_SET = "CPU-trained"


@st.cache_resource(max_entries=4, show_spinner=False)
def _settings_from(path: str) -> tuple[AppSettings, str | None]:
    """Read once per settings file (``path`` keys the cache; load_settings finds the same file)."""
    try:
        return load_settings(), None
    except SettingsError as error:
        return default_settings(), str(error)


def app_settings() -> AppSettings:
    """The models settings (cached per settings file); an invalid file falls back to the shipped models
    with a message."""
    settings, error = _settings_from(str(settings_path()))
    if error:
        notify(f"The models settings could not be used ({error}); showing the shipped models.")
    return settings


@functools.cache
def installed_sets() -> tuple[str, ...]:
    """The shipped sets this installation holds a model of every unit for (the CPU-trained one always)."""
    return tuple(name for name, prefix in SHIPPED_SET_PREFIXES.items()
                 if all(shipped_dir(prefix + unit).is_dir() for unit in UNITS))


def shipped_set() -> str:
    """The chosen shipped set's reference prefix ("" for the default set)."""
    name = st.session_state.get(SET_KEY)
    return SHIPPED_SET_PREFIXES[name] if name in installed_sets() else ""


def sidebar(settings: AppSettings) -> None:
    """The units to show and, per unit, which model serves it: shared by every page (rendered by app.py),
    bound to ``?units=`` and ``?<unit>_model=``."""
    check_choices(UNITS_KEY, list(UNIT_LABELS.values()), "units")
    check_choice(SET_KEY, installed_sets(), "weights")
    for unit in UNITS:
        raw = raw_param(model_key(unit))
        if raw is not None and len(raw) > MAX_REF_BOX:
            notify(f"The link's {UNIT_NAMES[unit]} model reference is {len(raw):,} characters long; the box takes "
                   f"{MAX_REF_BOX}, so it was cut.")
    for unit, pinned in st.session_state.pop(_PINS_KEY, {}).items():
        st.session_state[model_key(unit)] = pinned  # before the widget exists: see load_models
    with st.sidebar:
        st.pills("Units", UNITS, default=list(settings.default_units), selection_mode="multi",
                 format_func=UNIT_LABELS.get, key=UNITS_KEY, bind="query-params",
                 help="Which recurrent units to compare. Every page shows the selected ones side by side.")
        if len(installed_sets()) > 1:
            st.segmented_control("Shipped weights", installed_sets(), default=DEFAULT_SET, key=SET_KEY,
                                 bind="query-params",
                                 help="Serve every unit left on its shipped default by the small models "
                                      "trained on a CPU (2 layers × 224), or by the article-size ones "
                                      "(2 layers × 600) trained on a GPU.")
        with st.expander("Models", icon=":material/deployed_code:"):
            st.caption("Leave empty for the configured model. A unit name (shipped weights) or "
                       "hf://OWNER/NAME@REVISION; the link remembers it.")
            for unit in UNITS:
                st.text_input(UNIT_NAMES[unit], value="", key=model_key(unit), bind="query-params",
                              placeholder=settings.reference(unit, shipped_set()), max_chars=MAX_REF_BOX)
        if shipped_set():
            st.caption("The article-size weights (2 layers × 600) were trained on one GPU for one to three minutes "
                       "each, within the article's 2-epoch budget or short of it (see their model cards). "
                       "Configure other models in models.toml.")
        else:
            st.caption("The shipped weights are smaller than the article's 2×600 models (2 layers × 224, the "
                       "Nested LSTM 1) and were trained on a CPU, each for an epoch or more of a Wikipedia corpus "
                       "like text8 (see their model cards). Configure other models in models.toml.")


def selected_units(settings: AppSettings) -> list[str]:
    value = st.session_state.get(UNITS_KEY)
    units = list(settings.default_units) if value is None else [u for u in value if u in UNITS]
    return [u for u in UNITS if u in units]


@dataclass(frozen=True)
class ShownModel:
    """The model shown for one unit of a page: the unit's slot, the model loaded for it, and why it is
    not the one asked for (if it is not)."""

    unit: str  # the slot: the unit the page shows it as
    loaded: LoadedModel
    notice: str | None  # why another model is shown instead, or a Hub notice
    visitor: bool = False  # a visitor's own choice (rnnmem.visitor_models), not the server's configuration

    @property
    def name(self) -> str:
        return UNIT_NAMES[self.unit]

    @property
    def model(self) -> AutocompleteRNN:
        return self.loaded.model

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity for derived-result caches: unit, reference, revision."""
        return self.loaded.key

    @property
    def source(self) -> str:
        return str(self.loaded.ref)

    def caption(self) -> str:
        return self.loaded.caption()


@st.cache_resource(max_entries=16, ttl=3600, show_spinner=False)
def _load(reference: str) -> LoadedModel:
    """The configured models and the shipped ones (a bounded set), loaded once per process. A failure
    raises, and Streamlit caches no exception: a Hub outage is tried again at the next run, not remembered
    for the cache's hour (the fallback to a shipped model happens outside, in ``_load_or_fallback``)."""
    return load(reference)


def _load_or_fallback(reference: str, unit: str) -> LoadedModel:
    return load_with_fallback(reference, unit, loader=_load)


def _load_for_visitor(reference: str, unit: str) -> LoadedModel:
    """A visitor's own choice: held by the visitor-model store, not Streamlit's cache."""
    return load_with_fallback(reference, unit, loader=load)


@st.cache_resource(show_spinner=False)
def _visitor_models() -> VisitorModels:
    """The process's store of models visitors chose (Hub references): shared, and bounded per visitor and
    overall (rnnmem.visitor_models)."""
    return VisitorModels(_load_for_visitor, alias=_pinned_key)


def _pinned_key(key: tuple[str, str], result: LoadedModel) -> tuple[str, str] | None:
    """A Hub model loaded by branch or tag also answers to its commit (the reference the link then carries)."""
    pinned = str(result.pinned)
    return (pinned, key[1]) if pinned != key[0] else None


def _configured_pinned(configured: str, unit: str, reference: str) -> LoadedModel | None:
    """The configured model, where ``reference`` is only its pinned form (a configured Hub branch or tag,
    pinned to its commit in the link by load_models): the process's shared model, which counts against no
    visitor's limits. None for any other reference."""
    if parse_model_ref(configured).kind != "hub":
        return None
    loaded = _load_or_fallback(configured, unit)
    return loaded if loaded.ref.kind == "hub" and str(loaded.pinned) == reference else None


def _visitor_id() -> str:
    """This browser session's id for the per-visitor limits (a new tab is a new session)."""
    return st.session_state.setdefault("_rnnmem_visitor", secrets.token_hex(8))


def load_models(settings: AppSettings, units: Sequence[str]) -> list[ShownModel]:
    """The model serving each unit (sidebar/link override, else settings), with a warning on the page for
    every reference that could not be used."""
    notices = st.container()  # taken on every run, warnings or not (rnnmem.app.params, "Stable places")
    shown, pins = [], {}
    for unit in units:
        configured = reference = settings.reference(unit, shipped_set())
        override = (st.session_state.get(model_key(unit)) or "").strip()
        notice = None
        if override and override != reference:
            try:
                reference = check_override(override, settings)
            except ModelRefError as error:
                notice = (f"{UNIT_NAMES[unit]}: cannot use {quoted(override, 80)}: {error}. Using the configured "
                          f"model {reference} instead.")
        refused = visitor = False
        with st.spinner(f"Loading the {UNIT_NAMES[unit]} model…"):
            loaded = None
            if reference != configured and parse_model_ref(reference).kind != "shipped":
                loaded = _configured_pinned(configured, unit, reference)
                try:
                    if loaded is None:
                        loaded, visitor = _visitor_models().get(_visitor_id(), (reference, unit)), True
                except ModelLimitError as error:
                    notice = (f"{UNIT_NAMES[unit]}: cannot load {quoted(override, 80)}: {error}. Using the "
                              f"configured model {configured} instead.")
                    reference, refused = configured, True
            if loaded is None:
                loaded = _load_or_fallback(reference, unit)
        load_notice = loaded.notice
        if loaded.unit != unit and not (notice or load_notice):
            load_notice = (f"{reference} is a {UNIT_NAMES.get(loaded.unit, loaded.unit)} model; it is shown in the "
                           f"{UNIT_NAMES[unit]} slot as configured.")
        item = ShownModel(unit, loaded, notice or load_notice, visitor=visitor)
        if item.notice:
            notices.warning(plain(item.notice), icon=":material/warning:")
        pinned = str(loaded.pinned)
        # Not after a refusal: the pin would be the visitor's choice on the rerun, refused again, pinned again…
        if loaded.ref.kind == "hub" and pinned != reference and "hub" in settings.overrides and not refused:
            pins[unit] = pinned
        shown.append(item)
    if pins:
        # A Hub branch or tag moves; the link must name the commit this view was drawn with. The sidebar
        # box takes the pinned reference on the rerun (a bound widget's value can only be set before it is
        # drawn), and the URL follows it.
        st.session_state[_PINS_KEY] = pins
        st.rerun()
    return shown


def require_units(settings: AppSettings) -> list[str]:
    units = selected_units(settings)
    if not units:
        stop("Select at least one unit in the sidebar.")
    return units
