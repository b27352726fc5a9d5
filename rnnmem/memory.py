"""How far back a model looks: the memory measure, from connectivity rows.

For an output position t, the connectivity row C[t, τ ≤ t] says how strongly the desired output at t
depends on each earlier input character. Three numbers summarise it:

- **context share**: the share of the row's mass on characters *before* the current word's leading space
  (what the model takes from earlier words, as opposed to the word being typed);
- **d50 / d90**: the smallest distance back d such that positions t−d … t hold 50% / 90% of the row's
  mass (d = 0: the character at t alone holds it).

``row_measures`` computes them for every row of a matrix (a pure function, tested on hand-made rows);
``memory_profile`` samples whole sequences of a text, computes their connectivity matrices and averages,
with confidence intervals from a bootstrap over sequences (positions of one sequence are not independent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .attribution import connectivity_matrix
from .errors import InputError
from .inputs import text_sequences
from .text import CHARS, word_starts

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
        if not keep.any():
            out[name] = {"mean": float("nan"), "low": float("nan"), "high": float("nan")}
            continue
        sums = np.bincount(index[keep], weights=values[keep], minlength=len(clusters))
        counts = np.bincount(index[keep], minlength=len(clusters)).astype(np.float64)
        mean = float(sums.sum() / counts.sum())
        if len(clusters) > 1:
            draws = rng.integers(0, len(clusters), size=(resamples, len(clusters)))
            boot = sums[draws].sum(1) / np.maximum(counts[draws].sum(1), 1)
            low, high = np.percentile(boot, [2.5, 97.5])
        else:
            low = high = mean
        out[name] = {"mean": mean, "low": float(low), "high": float(high)}
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


def memory_profile(model, texts, positions: int = 2000, seed: int = 0, *, progress=None,
                   max_distance: int | None = None) -> MemoryProfile:
    """Context share, d50 and d90 averaged over about ``positions`` output positions of ``texts`` (a
    string, a list of strings, or a ``pathlib.Path`` of a text file).

    The text is cut into the model's training-length sequences at word boundaries (each starts with a
    fresh state, as in training); sequences are drawn in a seeded random order and every position of a
    drawn sequence is used, until ``positions`` are gathered (the last sequence is cut to fit). Whole
    sequences keep the cost at one connectivity matrix per sequence. ``progress(done, total)`` is
    called after each sequence.
    """
    if not isinstance(positions, (int, np.integer)) or isinstance(positions, bool) or positions < 1:
        raise InputError("positions must be a positive whole number")
    sequences = _sequences_of(model, texts)
    if not sequences:
        raise InputError("the text is empty once normalised")
    order = np.random.default_rng(seed).permutation(len(sequences))
    gathered: dict[str, list[np.ndarray]] = {name: [] for name in MEASURES}
    cluster: list[np.ndarray] = []
    D = model.config.max_seq_len if max_distance is None else max_distance + 1
    mass_sums, mass_counts = np.zeros(D), np.zeros(D)
    done = 0
    for n, i in enumerate(order.tolist()):
        if done >= positions:
            break
        _, _, text = sequences[i]
        take = min(len(text), positions - done)
        result = connectivity_matrix(model, text[:take] if take < len(text) else text, k=1)
        measures = row_measures(result.connectivity, word_starts(result.text))
        for name in MEASURES:
            gathered[name].append(measures[name])
        cluster.append(np.full(len(result.text), n))
        sums, counts = distance_profile(result.connectivity, D - 1)
        mass_sums[:len(sums)] += sums
        mass_counts[:len(counts)] += counts
        done += len(result.text)
        if progress:
            progress(min(done, positions), positions)
    per_position = {name: np.concatenate(values) for name, values in gathered.items()}
    sequence = np.concatenate(cluster)
    return MemoryProfile(
        per_position=per_position, sequence=sequence, means=summarise(per_position, sequence, seed=seed),
        distance_mass=np.divide(mass_sums, mass_counts, out=np.zeros(D), where=mass_counts > 0),
        positions=len(sequence), sequences=len(cluster), seed=seed, unit=model.unit)


def measures_of_matrix(matrix: np.ndarray, text: str) -> dict[str, float]:
    """Mean context share, d50 and d90 of one text's connectivity matrix (e.g. the article's published
    walkthrough data), over the rows with any mass."""
    measures = row_measures(matrix, word_starts(text))
    return {name: float(np.nanmean(values)) for name, values in measures.items()}
