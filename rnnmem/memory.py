"""How far back a model looks: the memory measure, from connectivity rows.

For an output position t, the connectivity row C[t, τ ≤ t] says how strongly the desired output at t
depends on each earlier input character. Three numbers summarise it:

- **context share**: the share of the row's mass on characters *before* the current word's leading space
  (what the model takes from earlier words, as opposed to the word being typed);
- **d50 / d90**: the smallest distance back d such that positions t−d … t hold 50% / 90% of the row's
  mass (d = 0: the character at t alone holds it).

The **memory profile** is the mean row-normalised connectivity (each row divided by its sum) against
the distance back from the output, in characters (d = t − τ) or in words: the word distance of input τ
from output t is the number of word boundaries (leading spaces) after τ up to t, so 0 is the current
word, its leading space included, 1 the word before it, and so on (``word_index``).

``row_measures`` computes them for every row of a matrix (a pure function, tested on hand-made rows);
``memory_profile`` samples whole sequences of a text, computes their connectivity matrices and averages,
with confidence intervals from a bootstrap over sequences (positions of one sequence are not independent).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .attribution import connectivity_matrix
from .errors import InputError
from .inputs import text_sequences
from .text import CHARS, is_space, word_starts

MEASURES = ("context_share", "d50", "d90")


def row_measures(matrix: np.ndarray, starts: np.ndarray) -> dict[str, np.ndarray]:
    """Context share, d50 and d90 of every row of a (T, T) connectivity matrix (entries after the
    diagonal are ignored). ``starts[t]`` is the index of the leading space of the word at t. Rows whose
    mass is zero get NaN: they say nothing about memory."""
    matrix = np.asarray(matrix, dtype=np.float64)
    T = matrix.shape[0]
    share = np.full(T, np.nan)
    d50 = np.full(T, np.nan)
    d90 = np.full(T, np.nan)
    for t in range(T):
        backwards = np.cumsum(matrix[t, t::-1])  # mass of positions t-d .. t, for d = 0 .. t
        total = backwards[-1]
        if not total > 0:
            continue
        before_word = total - backwards[t - starts[t]]  # positions < starts[t]
        share[t] = max(before_word, 0.0) / total
        # a relative tolerance: the 90% point of a row whose mass sits exactly at a boundary must not
        # move by one because of the order of floating-point additions
        d50[t] = np.searchsorted(backwards, 0.5 * total * (1 - 1e-9))
        d90[t] = np.searchsorted(backwards, 0.9 * total * (1 - 1e-9))
    return {"context_share": share, "d50": d50, "d90": d90}


def distance_profile(matrix: np.ndarray, max_distance: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row-normalised connectivity by distance back: (sum over rows of C[t, t-d] / row mass, number of
    rows reaching distance d), for d = 0 … max_distance. Divide the two for the mean profile."""
    matrix = np.asarray(matrix, dtype=np.float64)
    T = matrix.shape[0]
    D = T if max_distance is None else max_distance + 1
    sums, counts = np.zeros(D), np.zeros(D)
    for t in range(T):
        row = matrix[t, t::-1][:D]
        total = matrix[t, :t + 1].sum()
        if total > 0:
            sums[:len(row)] += row / total
            counts[:len(row)] += 1
    return sums, counts


def word_index(text: str) -> np.ndarray:
    """(T,) which word of normalised ``text`` each position belongs to, counting from 0: a word is its
    leading space and its letters, so the word distance of input τ from output t is
    ``word_index[t] - word_index[τ]`` (0: the current word). A trailing space starts a word of its own."""
    index = np.cumsum(is_space(text))
    return index - index[0] if len(index) else index


def word_distance_profile(matrix: np.ndarray, text: str,
                          max_words: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``distance_profile`` with the distance back counted in words (``word_index``): (sum over rows of the
    row's share on words k back, number of rows with a word k back), for k = 0 … max_words."""
    matrix = np.asarray(matrix, dtype=np.float64)
    words = word_index(text)
    W = int(words[-1]) + 1 if max_words is None else max_words + 1
    sums, counts = np.zeros(W), np.zeros(W)
    for t in range(matrix.shape[0]):
        row = matrix[t, :t + 1]
        total = row.sum()
        if total > 0:
            back = words[t] - words[:t + 1]  # (t+1,) word distance of every input so far
            keep = back < W
            sums += np.bincount(back[keep], weights=row[keep] / total, minlength=W)
            counts[:min(int(words[t]) + 1, W)] += 1
    return sums, counts


def cluster_band(sums: np.ndarray, counts: np.ndarray, *, rng: np.random.Generator,
                 resamples: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% percentile interval of sum/count from a bootstrap over clusters (sequences): ``sums``
    and ``counts`` are (S, …), one row per cluster; the ratio is taken over the resampled clusters'
    totals. NaN where nothing was counted; with one cluster the interval is the mean itself."""
    sums, counts = np.asarray(sums, dtype=np.float64), np.asarray(counts, dtype=np.float64)
    total = counts.sum(0)
    mean = np.divide(sums.sum(0), total, out=np.full(total.shape, np.nan), where=total > 0)
    if len(sums) < 2:
        return mean, mean.copy(), mean.copy()
    draws = rng.integers(0, len(sums), size=(resamples, len(sums)))
    drawn = counts[draws].sum(1)  # (R, …)
    boot = np.divide(sums[draws].sum(1), drawn, out=np.full(drawn.shape, np.nan), where=drawn > 0)
    with warnings.catch_warnings():  # a distance no resample reaches: NaN, said once by the mean
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(boot, [2.5, 97.5], axis=0)
    return mean, np.where(total > 0, low, np.nan), np.where(total > 0, high, np.nan)


@dataclass
class MemoryProfile:
    """The memory measure over sampled positions, with what is needed to check or redo it."""

    per_position: dict[str, np.ndarray]  # measure -> (N,) values
    sequence: np.ndarray  # (N,) which sampled sequence each position belongs to
    means: dict[str, dict[str, float]]  # measure -> {"mean", "low", "high"} (95% bootstrap interval)
    distance_mass: np.ndarray  # mean row-normalised connectivity at distance d back
    positions: int
    sequences: int
    seed: int
    unit: str = ""
    extras: dict = field(default_factory=dict)
    # "chars" / "words" -> {"mean", "low", "high" (95% bootstrap over sequences), "rows"}: (D,) arrays of the
    # memory profile at distance 0, 1, … back; "rows" counts the output positions reaching that distance
    curves: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)  # the sampled sequences, in the order drawn (the last cut)

    def summary(self) -> dict:
        return {"unit": self.unit, "positions": self.positions, "sequences": self.sequences, "seed": self.seed,
                **{name: self.means[name] for name in MEASURES}}


def summarise(per_position: dict[str, np.ndarray], sequence: np.ndarray, *, seed: int = 0,
              resamples: int = 1000) -> dict[str, dict[str, float]]:
    """Mean of each measure with a 95% percentile interval from a bootstrap that resamples whole
    sequences (a cluster bootstrap): neighbouring positions share context, so resampling positions
    would make the interval too narrow."""
    rng = np.random.default_rng(seed)
    clusters = np.unique(sequence)
    index = np.searchsorted(clusters, sequence)
    out = {}
    for name, values in per_position.items():
        keep = ~np.isnan(values)
        sums = np.bincount(index[keep], weights=values[keep], minlength=len(clusters))
        counts = np.bincount(index[keep], minlength=len(clusters)).astype(np.float64)
        mean, low, high = cluster_band(sums, counts, rng=rng, resamples=resamples) if keep.any() else (np.nan,) * 3
        out[name] = {"mean": float(mean), "low": float(low), "high": float(high)}
    return out


def _sequences_of(model, texts) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """Normalised text cut at word boundaries into sequences of the model's training length."""
    if isinstance(texts, Path):
        texts = [_read_text_file(texts)]
    elif isinstance(texts, str):
        texts = [texts]
    sequences = []
    for text in texts:
        for chars, targets in text_sequences(model, text):
            sequences.append((chars, targets, "".join(CHARS[c] for c in chars.tolist())))
    return sequences


def _read_text_file(path: Path, limit: int = 50_000_000) -> str:
    """Read at most ``limit`` characters: a text file of any size (or /dev/zero) must not exhaust memory."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(limit)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from error


def sample_texts(model, texts, positions: int = 2000, seed: int = 0) -> list[str]:
    """The sequences ``memory_profile`` measures: ``texts`` cut into the model's training-length sequences
    at word boundaries, drawn in a seeded random order until ``positions`` characters are gathered. A
    sequence longer than what is left is cut before its first word that does not fit (no word is cut and
    explained as its first letters), and the sample ends there, a few characters short. It is not filled
    up from the openings of further sequences: an opening of a word or two has no context by
    construction, and as a cluster of its own a few characters long it threw the bootstrap interval
    (which resamples whole sequences) down to zero whenever a resample drew only such openings. A lone
    space (or nothing) is left out, and so is a sequence drawn first whose first word alone passes
    ``positions``."""
    if not isinstance(positions, (int, np.integer)) or isinstance(positions, bool) or positions < 1:
        raise InputError("positions must be a positive whole number")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"the seed must be a whole number of at least 0, not {seed!r}")
    sequences = _sequences_of(model, texts)
    if not sequences:  # text_sequences refuses an empty text; packing leaves out words that fit no sequence
        raise InputError(f"the text has no word short enough to measure: the model reads sequences of at most "
                         f"{model.config.max_seq_len} characters, and a longer word fits none")
    chosen, done = [], 0
    for i in np.random.default_rng(seed).permutation(len(sequences)).tolist():
        if positions - done < 2:
            break
        text = sequences[i][2]
        if len(text) > positions - done:  # every word starts with its space: cut before one, and stop
            text = text[:max(text.rfind(" ", 0, positions - done + 1), 0)]
            if len(text) >= 2:
                chosen.append(text)
            if chosen:
                break
            continue  # not even the first word fits, and nothing is gathered yet: another sequence may
        if len(text) < 2:  # a lone space (or nothing) says nothing; the next sequence may
            continue
        chosen.append(text)
        done += len(text)
    return chosen


def memory_profile(model, texts, positions: int = 2000, seed: int = 0, *, progress=None,
                   max_distance: int | None = None, matrix=None) -> MemoryProfile:
    """Context share, d50 and d90 averaged over about ``positions`` output positions of ``texts`` (a
    string, a list of strings, or a ``pathlib.Path`` of a text file), and the memory profile.

    The text is cut into the model's training-length sequences at word boundaries (each starts with a
    fresh state, as in training); sequences are drawn in a seeded random order and every position of a
    drawn sequence is used, until ``positions`` are gathered (``sample_texts``). Whole sequences keep the
    cost at one connectivity matrix per sequence. ``progress(done, total)`` is called after each sequence.
    ``matrix(text)`` computes a sequence's ConnectivityResult (default: ``connectivity_matrix`` here; the
    app passes its worker processes').
    """
    chosen = sample_texts(model, texts, positions, seed)
    matrix = matrix or (lambda text: connectivity_matrix(model, text, k=1))
    total = sum(len(text) for text in chosen)

    def matrices():
        done = 0
        for text in chosen:
            result = matrix(text)
            done += len(result.text)
            if progress:
                progress(done, total)
            yield result.connectivity, result.text

    D = model.config.max_seq_len if max_distance is None else max_distance + 1
    return profile_of_matrices(matrices(), seed=seed, unit=model.unit, max_distance=D - 1)


def profile_of_matrices(matrices, *, seed: int = 0, unit: str = "", max_distance: int = 199) -> MemoryProfile:
    """The memory measure and profile of connectivity matrices already computed: ``matrices`` yields
    (matrix (T, T), normalised text) pairs, one per sequence (e.g. the article's published walkthrough
    data, one sequence, so its intervals are its means)."""
    D, W = max_distance + 1, max_distance // 2 + 1  # a word takes at least two characters
    gathered: dict[str, list[np.ndarray]] = {name: [] for name in MEASURES}
    cluster, texts = [], []
    per_sequence = {"chars": ([], []), "words": ([], [])}
    for n, (matrix, text) in enumerate(matrices):
        measures = row_measures(matrix, word_starts(text))
        for name in MEASURES:
            gathered[name].append(measures[name])
        cluster.append(np.full(len(text), n))
        texts.append(text)
        for scale, (sums, counts) in (("chars", distance_profile(matrix, D - 1)),
                                      ("words", word_distance_profile(matrix, text, W - 1))):
            per_sequence[scale][0].append(sums)  # (D,) or (W,): every sequence the same length
            per_sequence[scale][1].append(counts)
    if not texts:
        raise InputError("no sequences to measure")
    per_position = {name: np.concatenate(values) for name, values in gathered.items()}
    sequence = np.concatenate(cluster)
    rng = np.random.default_rng([seed, 1])  # not the summaries' stream: their figures stay as published
    curves = {}
    for scale, (sums, counts) in per_sequence.items():
        mean, low, high = cluster_band(np.stack(sums), np.stack(counts), rng=rng)
        curves[scale] = {"mean": mean, "low": low, "high": high, "rows": np.stack(counts).sum(0)}
    return MemoryProfile(
        per_position=per_position, sequence=sequence, means=summarise(per_position, sequence, seed=seed),
        distance_mass=np.nan_to_num(curves["chars"]["mean"]), positions=len(sequence), sequences=len(cluster),
        seed=seed, unit=unit, curves=curves, texts=texts)


def measures_of_matrix(matrix: np.ndarray, text: str) -> dict[str, float]:
    """Mean context share, d50 and d90 of one text's connectivity matrix (e.g. the article's published
    walkthrough data), over the rows with any mass."""
    measures = row_measures(matrix, word_starts(text))
    return {name: float(np.nanmean(values)) for name, values in measures.items()}
