"""The article's walkthrough: its paragraph, its three moments, and its published per-character data.

The article's connectivity figure uses one paragraph of the Wikipedia article on grammar. Its authors
published what their 2×600 models (trained on text8 on a GPU) predicted at every character of it and the
connectivity of every output to every input (``data/article_walkthrough/``, MIT licence, see its README).
The app shows that data as a row beside the shipped models, and training keeps the paragraph out of
the training data (``held_out_fragments``), so the comparison is never made on text a model learnt.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch

from .article_data import ARTICLE_UNITS
from .attribution import ConnectivityResult, connectivity_matrix
from .inputs import prepare_text
from .memory import measures_of_matrix
from .text import normalize

PARAGRAPH = (
    "context the formal study of grammar is an important part of education from a young age through advanced "
    "learning though the rules taught in schools are not a grammar in the sense most linguists use"
)
AUTOCOMPLETE_EXAMPLE = "parts of north africa"
ARTICLE_SOURCE = "the article's models (published)"


@dataclass(frozen=True)
class Moment:
    label: str
    word: str
    occurrence: int  # 1 for the word's first occurrence in the paragraph, 2 for the second
    letters: int  # letters of the word the model has seen
    explanation: str

    def position(self, normalised: str) -> int:
        """Index, in the normalised paragraph, of the character where the model has seen ``letters``
        letters of the word's ``occurrence``-th appearance."""
        starts = [m.start() for m in re.finditer(rf" {self.word}(?= |$)", normalised)]
        return starts[self.occurrence - 1] + self.letters


MOMENTS = (
    Moment("1 · “learning” after 2 letters", "learning", 1, 2,
           "The article's GRU and LSTM already suggest “learning” from “le”, drawing on “advanced” before it, "
           "while its Nested LSTM barely looks back and offers common words starting with “l”."),
    Moment("2 · the second “grammar” after 1 letter", "grammar", 2, 1,
           "Having seen “grammar” earlier in the paragraph, the article's GRU predicts it again from the single "
           "letter “g”; its LSTM and Nested LSTM need four letters."),
    Moment("3 · “schools” after 1 letter", "schools", 1, 1,
           "The article's LSTM draws on words from almost the whole paragraph here, yet its suggestions are far "
           "off: long-term memorisation without long-term contextual understanding."),
)


@functools.lru_cache(maxsize=None)
def article_walkthrough(unit: str) -> ConnectivityResult:
    """The article's published walkthrough data for ``unit`` (gru, lstm or nlstm), in the shape the app
    draws our own models' results in: the connectivity (unscaled, zero after the diagonal), the word in
    the text at every character, and the article model's top-3 words and probabilities."""
    if unit not in ARTICLE_UNITS:
        raise KeyError(f"the article published no walkthrough data for {unit!r}")
    raw = json.loads(resources.files("rnnmem").joinpath(f"data/article_walkthrough/connectivity_{unit}.json")
                     .read_text(encoding="utf-8"))
    text = "".join(entry["char"] for entry in raw)
    matrix = np.array([entry["connectivity"] for entry in raw], dtype=np.float32)
    matrix = np.tril(matrix)  # the published rows are zero after the output already; make sure
    return ConnectivityResult(
        text=text, connectivity=matrix, desired=[entry["target"] for entry in raw],
        desired_in_text=[True] * len(raw), top_words=[list(entry["predict"]) for entry in raw],
        top_probabilities=np.array([entry["probability"] for entry in raw], dtype=np.float32), unit=unit)


def held_out_fragments(words_per_fragment: int = 6) -> list[str]:
    """Every run of ``words_per_fragment`` consecutive words of the paragraph (or the whole paragraph, if
    shorter), each with its leading space: a training sequence holding any of them is kept out of
    training. Fragments rather than the whole paragraph, because a corpus carries it in slightly different
    versions (the 2015 extract reads "education for children from a young age"); every start, so that no
    six-word run slips through between two fragments."""
    words = normalize(PARAGRAPH).split()
    return [" " + " ".join(words[i:i + words_per_fragment])
            for i in range(max(len(words) - words_per_fragment, 0) + 1)]


def model_report(model) -> dict:
    """How ``model`` does on the walkthrough paragraph, beside the article's model of the same unit: the
    memory measure of its connectivity, and at each of the three moments the rank (1–3, or None) and
    probability of the word in the text, with its top 3. The figures the model cards and README quote."""
    result = connectivity_matrix(model, PARAGRAPH, k=3)
    report = {"model": measures_of_matrix(result.connectivity, result.text), "moments": []}
    if model.unit in ARTICLE_UNITS:
        published = article_walkthrough(model.unit)
        report["article"] = measures_of_matrix(published.connectivity, published.text)
    prepared = prepare_text(model, PARAGRAPH)
    with torch.no_grad():
        device = next(model.parameters()).device
        logits, _ = model(torch.from_numpy(prepared.chars.astype(np.int64))[None].to(device))
        probabilities = torch.softmax(logits[0].float(), dim=-1).cpu().numpy()
    for moment in MOMENTS:
        t = moment.position(result.text)
        top3 = result.top_words[t]
        report["moments"].append({
            "label": moment.label, "word": moment.word, "position": t, "top3": top3,
            "rank": top3.index(moment.word) + 1 if moment.word in top3 else None,
            # None: the word is outside the model's vocabulary (a small model's), so it has no probability
            "probability": (float(probabilities[t, model.word_ids[moment.word]])
                            if moment.word in model.word_ids else None),
        })
    return report
