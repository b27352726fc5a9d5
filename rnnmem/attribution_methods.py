"""Attribution of one output position to every input character, by three methods: the article's squared
gradient norm (the default), gradient × input, and integrated gradients.

Each method explains f = z_t[y], the logit of a word y at output position t (rnnmem.attribution's
``explained_id``: the desired word, a suggestion, or any vocabulary word), as a function of the one-hot
input characters x_0 … x_t (x_τ ∈ {0, 1}^28). The one-hot enters only through the embedding, e_τ = x_τ E,
so each is computed on the embedded inputs (``logit_function``) and read back on the one-hot:

- ``grad_sq``, the article's connectivity: ‖∂f/∂x_τ‖², the squared gradient over the 28 one-hot
  dimensions: how sensitive the output is to the character at τ, whatever it is. Never negative
  (Madsen 2019, "Visualizing memorization in RNNs"; rnnmem.attribution.connectivity, unchanged).
- ``grad_x_input``: (∂f/∂x_τ) · x_τ = (∂f/∂e_τ) · e_τ, summed over the one-hot (equivalently the
  embedding) dimensions: the first-order estimate of how much the character actually at τ adds to f
  against no character there. Signed (Shrikumar et al. 2016, "Not just a black box").
- ``integrated_gradients``: (x_τ − x'_τ) · ∫₀¹ ∂f/∂x_τ(x' + α(x − x')) dα, summed over the one-hot
  dimensions, from the baseline x' = a space at every position (the text with every letter blanked; the
  text's own spaces therefore get exactly 0). Completeness: Σ_τ IG_τ = f(x) − f(x'). The embedding is
  linear, so this is integrated gradients on the embeddings from the space's embedding, summed over the
  embedding dimensions: Captum's ``IntegratedGradients`` on ``logit_function``, the midpoint rule on
  ``n_steps`` points. Signed (Sundararajan et al. 2017, "Axiomatic attribution for deep networks").

  Why not the all-zero one-hot ("no character", a zero embedding)? On the shipped models the path from
  zero crosses a region where the recurrent state's gradient explodes (|df/dα| up to 10^5 near α = 0.02):
  800 integration points still missed completeness by up to 20×. From spaces, |df/dα| stays below ~300
  and the midpoint rule meets completeness within a few per cent with 64 to 256 points. Gauss–Legendre,
  Captum's default, did worse on these spiky integrands (10–30% off at 32 and 64 points), and Captum's
  "riemann_trapezoid" weighs its n points to a total of 1 − 1/n, not 1 (7/8 of the exact answer on a
  linear integrand with 8 points), so "riemann_middle" it is.
  So by default the points double from 64 until the shares add up to f(x) − f(x') within 5% (or 0.05),
  at most 512; ``Attribution.n_steps`` says how many were used.

Signed values are kept as computed (``Attribution.values``); a view colours their magnitude, each row
divided by its largest magnitude (``scaled_row``), as the article colours connectivity. Captum is imported
only when integrated gradients are asked for. Read-only on the model, as all attribution here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from .attribution import connectivity_of_id, embedded_inputs, explained_id, input_gradient, logit_function
from .errors import InputError, quoted
from .inputs import check_position, prepare_text
from .model import AutocompleteRNN
from .text import CHARS

SPACE_ID = CHARS.index(" ")  # the baseline character of integrated gradients

MethodName = Literal["grad_sq", "grad_x_input", "integrated_gradients"]
IG_STEPS = 64  # first number of integration points (midpoint rule); doubled until complete enough
IG_MAX_STEPS = 512  # the most: 256 met 5% at every walkthrough moment of every shipped unit
IG_TOLERANCE = 0.05  # |Σ IG − (f(x) − f(x'))| allowed, relative to |f(x) − f(x')| (and at least this, absolute)
IG_BATCH = 32  # scaled inputs per forward/backward pass: bounds memory at 500 characters


@dataclass(frozen=True)
class Method:
    """An attribution method: its label, and one line on what it means (shown in the app)."""

    label: str
    meaning: str
    signed: bool  # values can be negative (the view colours their magnitude)


METHODS: dict[MethodName, Method] = {
    "grad_sq": Method("squared gradient (the article's)",
                      "‖∂z[y]/∂x_τ‖²: how sensitive the explained word's logit is to the character at τ, "
                      "whatever character it is (the article's connectivity; never negative).", signed=False),
    "grad_x_input": Method("gradient × input",
                           "(∂z[y]/∂x_τ)·x_τ: the linear estimate of how much the character actually at τ adds "
                           "to the explained word's logit, against no character there; signed.", signed=True),
    "integrated_gradients": Method("integrated gradients",
                                   "The gradient × input integrated along the straight path from a baseline of "
                                   "spaces (every letter blanked) to the text: the shares add up to logit(text) − "
                                   "logit(baseline), and the text's spaces get 0; signed.", signed=True),
}


def value_name(method: str) -> str:
    """What a method's values are called in tooltips and tables: "connectivity" for the article's (its name
    throughout the app), else the method's label."""
    return "connectivity" if method == "grad_sq" else METHODS[check_method(method)].label


def check_method(method) -> str:
    if method not in METHODS:
        raise InputError(f"unknown attribution method {quoted(str(method))}; expected one of {', '.join(METHODS)}")
    return method


@dataclass(frozen=True)
class Attribution:
    """One output position's attribution to every input character, and what it explains.

    ``values[τ]`` for τ ≤ ``position``, zero after; ``logit`` is f(x), and for integrated gradients
    ``baseline_logit`` is f(x') and ``n_steps`` the integration points."""

    text: str  # normalised
    position: int
    method: str  # a key of METHODS
    word: str  # the word whose logit is explained
    values: np.ndarray  # (T,) float32
    logit: float
    baseline_logit: float | None = None
    n_steps: int | None = None

    def row(self, position: int | None = None) -> np.ndarray:
        """The values (``position``, if given, must be the one attributed: the views' common protocol)."""
        self._check(position)
        return self.values

    def scaled_row(self, position: int | None = None) -> np.ndarray:
        """|values| divided by the largest |value| (0 when all are zero): what the view colours."""
        self._check(position)
        magnitude = np.abs(self.values)
        peak = float(magnitude.max())
        return magnitude / peak if peak > 0 else magnitude

    def completeness_gap(self) -> float | None:
        """Σ values − (f(x) − f(x')) for integrated gradients (0 up to the integration's error), else None."""
        if self.baseline_logit is None:
            return None
        return float(self.values.astype(np.float64).sum()) - (self.logit - self.baseline_logit)

    def incomplete(self) -> bool:
        """Integrated gradients whose shares miss f(x) − f(x') by more than the tolerance (IG_TOLERANCE):
        the integration points ran out (IG_MAX_STEPS) before the integral was accurate."""
        gap = self.completeness_gap()
        return gap is not None and abs(gap) > IG_TOLERANCE * max(abs(self.logit - self.baseline_logit), 1.0)

    def _check(self, position) -> None:
        if position is not None and position != self.position:
            raise InputError(f"this attribution is of position {self.position}, not {position}")


def gradient_x_input(forward, inputs: torch.Tensor) -> torch.Tensor:
    """Gradient × input, shaped like ``inputs`` (B, …): ∂forward/∂inputs · inputs, element by element."""
    return input_gradient(forward, inputs) * inputs


def integrated_gradients(forward, inputs: torch.Tensor, baseline: torch.Tensor, n_steps: int = IG_STEPS,
                         batch: int = IG_BATCH) -> torch.Tensor:
    """Integrated gradients of ``forward`` (B, …) -> (B,) from ``baseline`` to ``inputs``, shaped like
    ``inputs``: Captum's ``IntegratedGradients`` (midpoint rule, ``n_steps`` points, ``batch`` scaled
    inputs per pass). Captum takes gradients with ``torch.autograd.grad``: parameters' ``.grad`` untouched."""
    from captum.attr import IntegratedGradients  # lazy: Captum imports matplotlib, ~1 s

    if not isinstance(n_steps, int) or isinstance(n_steps, bool) or not 2 <= n_steps <= 1000:
        raise InputError(f"n_steps must be a whole number from 2 to 1,000, not {n_steps!r}")
    with torch.enable_grad():
        return IntegratedGradients(forward).attribute(inputs, baselines=baseline, n_steps=n_steps,
                                                      method="riemann_middle", internal_batch_size=batch).detach()


def attribution(model: AutocompleteRNN, text: str, position: int, method: MethodName = "grad_sq",
                target: str | None = None, n_steps: int | None = None) -> Attribution:
    """``method``'s attribution (a key of METHODS) of the explained word's logit at ``position`` to every
    input character; ``target`` as ``rnnmem.attribution.explained_id`` (None: the desired word).
    ``n_steps``: integrated gradients' points; None doubles them from IG_STEPS until complete within
    IG_TOLERANCE (at most IG_MAX_STEPS)."""
    method = check_method(method)
    prepared = prepare_text(model, text)
    position = check_position(prepared, position)
    y = explained_id(model, prepared, position, target)
    forward = logit_function(model, position, y)
    embedded = embedded_inputs(model, prepared, position)  # (1, t+1, E)
    with torch.no_grad():
        logit = float(forward(embedded)[0])
    values = np.zeros(len(prepared), dtype=np.float32)
    baseline_logit, steps = None, None
    if method == "grad_sq":  # the article's quantity, by the very function the matrix is checked against
        values = connectivity_of_id(model, prepared, position, y)
    elif method == "grad_x_input":
        values[:position + 1] = gradient_x_input(forward, embedded)[0].sum(-1).cpu().numpy()  # (t+1,)
    else:
        baseline = model.embedding.weight[SPACE_ID].detach().expand_as(embedded)  # a space at every position
        with torch.no_grad():
            baseline_logit = float(forward(baseline)[0])
        allowed = IG_TOLERANCE * max(abs(logit - baseline_logit), 1.0)
        steps = n_steps or IG_STEPS
        while True:
            shares = integrated_gradients(forward, embedded, baseline, steps)[0].sum(-1)  # (t+1,)
            gap = float(shares.double().sum()) - (logit - baseline_logit)
            if n_steps is not None or abs(gap) <= allowed or steps >= IG_MAX_STEPS:
                break
            steps *= 2
        values[:position + 1] = shares.cpu().numpy()
    return Attribution(text=prepared.text, position=position, method=method, word=model.words[y], values=values,
                       logit=logit, baseline_logit=baseline_logit, n_steps=steps)


__all__ = ["Attribution", "IG_MAX_STEPS", "IG_STEPS", "IG_TOLERANCE", "METHODS", "Method", "MethodName", "attribution",
           "check_method", "gradient_x_input", "integrated_gradients", "value_name"]
