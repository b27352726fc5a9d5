"""CLI commands over the analysis API: suggest, connectivity, evaluate."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .accuracy import AccuracyResult, accuracy_by_chars_seen
from .attribution import TARGET_HELP, connectivity_matrix
from .attribution_methods import METHODS, attribution, value_name
from .breakdowns import BREAKDOWNS, accuracy_with_bands
from .corpus import read_text_file
from .dataset import sequence_texts
from .errors import InputError, quoted
from .exports import chart_png, chart_svg, frame_csv, matrix_frame
from .held_out import dataset_like, split_sequences, take_chars
from .inputs import text_sequences
from .memory import MEASURES, memory_profile
from .memory_tables import csv_bytes, export_frame
from .model import AutocompleteRNN
from .refs import load
from .suggestions import suggest
from .textchart import (connectivity_figure, connectivity_table, connectivity_text_frame, connectivity_text_spec,
                        connectivity_title)
from .units import UNIT_NAMES


def _whole_number(value: str, low: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quoted(value)} is not a whole number") from None
    if number < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, not {number:,}")
    return number


def positive_int(value: str) -> int:
    """argparse type: a whole number of at least 1."""
    return _whole_number(value, 1)


def seed_int(value: str) -> int:
    """argparse type: a seed, a whole number of at least 0 (numpy refuses negative seeds)."""
    return _whole_number(value, 0)


def add_commands(sub) -> None:
    p = sub.add_parser("suggest", help="top words for the word being typed at the end of TEXT")
    p.add_argument("model", help="unit name (rnn, gru, lstm, nlstm), model directory, or hf://OWNER/NAME[@REV]")
    p.add_argument("text")
    p.add_argument("-k", type=int, default=3, help="number of suggestions")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_suggest)

    p = sub.add_parser("connectivity", help="connectivity of the desired output to earlier characters")
    p.add_argument("model")
    p.add_argument("text")
    p.add_argument("--position", type=int, default=None,
                   help="character index in the normalised text; without it, the whole matrix")
    p.add_argument("--target", default=None, help=TARGET_HELP + " (default: desired)")
    p.add_argument("--method", choices=list(METHODS), default="grad_sq",
                   help="attribution: the article's squared gradient norm (default), gradient × input, or "
                        "integrated gradients from a baseline of spaces (other methods need --position)")
    p.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                   help="JSON: printed, or written to FILE")
    p.add_argument("--csv", default=None, metavar="FILE", help="the row (with --position) or the matrix as CSV")
    p.add_argument("--svg", default=None, metavar="FILE", help="the row's chart as the app draws it (SVG)")
    p.add_argument("--png", default=None, metavar="FILE", help="the row's chart as a PNG image")
    p.set_defaults(run=run_connectivity)

    p = sub.add_parser("evaluate", help="accuracy given characters seen, and cross-entropy")
    p.add_argument("model")
    p.add_argument("--corpus", default=None, help="'text8' or a corpus file; scores its --split")
    p.add_argument("--split", choices=("valid", "test"), default="test")
    p.add_argument("--data-seed", type=seed_int, default=0, help="split seed the model was trained with")
    p.add_argument("--text-file", default=None, help="score this text file instead of a corpus split")
    p.add_argument("--max-chars", type=positive_int, default=None, help="score at most this many characters")
    p.add_argument("--batch-size", type=positive_int, default=32, help="sequences per forward pass")
    p.add_argument("--by", choices=BREAKDOWNS, default=None,
                   help="also break the accuracy down by the word's frequency, length, repetition (the 100 "
                        "most frequent words apart, a rarer word already read in its sequence or not: a signal "
                        "of memory, compared between units) or distance (the repeated rarer words by how many "
                        "characters back they were last read); rnnmem.breakdowns")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run_evaluate)

    p = sub.add_parser("memory", help="how far back the model looks: context share, d50 and d90")
    p.add_argument("model")
    p.add_argument("--text-file", default=None, help="measure on this text file")
    p.add_argument("--corpus", default=None, help="'text8' or a corpus file; measures on its --split")
    p.add_argument("--split", choices=("valid", "test"), default="test")
    p.add_argument("--data-seed", type=seed_int, default=0, help="split seed the model was trained with")
    p.add_argument("--positions", type=int, default=2000, help="output positions to sample")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the sample and of the bootstrap")
    p.add_argument("--json", action="store_true")
    p.add_argument("--csv", default=None, metavar="FILE",
                   help="also write the memory profile (in characters and in words back, with 95%% intervals) and "
                        "the summaries to FILE as one long CSV table (rnnmem.memory_tables.export_frame)")
    p.set_defaults(run=run_memory)


def _load(ref: str) -> tuple[AutocompleteRNN, str]:
    """The model of a reference, and the reference that names it in reports."""
    loaded = load(ref)
    return loaded.model, str(loaded.ref)


def _stderr(message: str) -> None:
    """Progress messages (the corpus being prepared) go to stderr, out of the way of --json output."""
    print(message, file=sys.stderr)


def run_suggest(args) -> int:
    model, source_ref = _load(args.model)
    result = suggest(model, args.text, k=args.k)
    if args.json:
        print(json.dumps({"model": source_ref, "unit": model.unit, **result.as_dict()}))
    else:
        print(f"{result.text!r} (typing {result.prefix!r}):")
        for word, p in zip(result.words, result.probabilities):
            print(f"  {word:20s} {p:.3f}")
    return 0


def _write(path: str | None, data: bytes | str) -> None:
    """``data`` to the file ``path`` ("-": standard output); nothing when ``path`` is None."""
    if path is None:
        return
    if path == "-":
        print(data if isinstance(data, str) else data.decode("utf-8"))
        return
    try:
        Path(path).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    except OSError as error:
        raise InputError(f"cannot write {quoted(path)}: {error.strerror or error}") from None


def run_connectivity(args) -> int:
    model, source_ref = _load(args.model)
    if args.position is None:
        for flag, value in (("--target", args.target), ("--svg", args.svg), ("--png", args.png),
                            ("--method", None if args.method == "grad_sq" else args.method)):
            if value is not None:
                raise InputError(f"{flag} needs --position (the whole matrix is the article's connectivity)")
        result = connectivity_matrix(model, args.text)
        _write(args.json, json.dumps({"model": source_ref, "unit": model.unit, "text": result.text,
                                      "desired": result.desired, "top_words": result.top_words,
                                      "top_probabilities": np.round(result.top_probabilities, 6).tolist(),
                                      "connectivity": result.connectivity.tolist()}))
        _write(args.csv, frame_csv(matrix_frame(result.connectivity, result.text, result.desired)))
        if args.json != "-":
            print(f"{result.text!r}: {len(result.text)} positions")
            for t, word in enumerate(result.desired):
                row = result.scaled_row(t)
                strongest = int(np.argsort(row[:t + 1])[-1])
                print(f"  {t:4d} {result.text[t]!r} -> {word:15s} strongest input {strongest} {result.text[strongest]!r}")
        return 0
    row = attribution(model, args.text, args.position, args.method, target=args.target)
    text, values = row.text, row.values
    report = {"model": source_ref, "unit": model.unit, "text": text, "position": row.position,
              "method": row.method, "word": row.word, "values": values.tolist(), "logit": row.logit}
    if args.method == "grad_sq":
        report["connectivity"] = report["values"]  # the name this command has always used
    if row.n_steps is not None:
        report.update(baseline_logit=row.baseline_logit, n_steps=row.n_steps)
    _write(args.json, json.dumps(report))
    if args.csv or args.svg or args.png:
        frame = connectivity_text_frame(text, row.scaled_row(), row.position, raw=values)
        name = value_name(row.method)
        _write(args.csv, frame_csv(connectivity_table(frame, name)))
        spec = connectivity_figure(connectivity_text_spec(frame, titles=(f"|{name}| / max", name)), value=name,
                                   title=connectivity_title(f"{UNIT_NAMES[model.unit]} ({source_ref})", name, row.word,
                                                            text, row.position))
        if args.svg:
            _write(args.svg, chart_svg(spec))
        if args.png:
            _write(args.png, chart_png(spec))
    if args.json != "-":
        print(f"{text!r}, position {row.position}: {row.method} for {row.word!r}")
        scaled = row.scaled_row()
        for i, (ch, v) in enumerate(zip(text, values)):
            if i > row.position:
                break
            print(f"  {i:4d} {ch!r} {v:.4g} {'#' * int(round(30 * scaled[i]))}")
    return 0


def _text_file_sequences(model, path: str, max_chars: int | None) -> list:
    """A text file's (chars, targets) sequences, cut as the model's training data was. Enough text is read
    for ``max_chars`` plus the sequence that crosses it: the same sequences as the whole file's."""
    wanted = None if max_chars is None else max_chars + model.config.max_seq_len
    return text_sequences(model, read_text_file(path, max_chars=wanted))


def run_evaluate(args) -> int:
    model, source_ref = _load(args.model)
    if (args.corpus is None) == (args.text_file is None):
        raise InputError("give exactly one of --corpus or --text-file")
    if args.text_file is not None:
        sequences = _text_file_sequences(model, args.text_file, args.max_chars)
        total = sum(len(c) for c, _ in sequences)
        source, split = args.text_file, "text-file"
    else:
        sequences, total, source = split_sequences(model, args.corpus, args.split, args.data_seed, log=_stderr)
        split = args.split
    if args.max_chars is not None:
        total = min(total, args.max_chars)
    with tqdm(total=total, unit="char", unit_scale=True, desc=f"evaluate {model.unit}", file=sys.stderr,
              disable=None) as bar:
        scored = dict(batch_size=args.batch_size, progress=bar.update)
        taken = take_chars(sequences, args.max_chars)
        result, bands = (accuracy_with_bands(model, taken, args.by, **scored) if args.by else
                         (accuracy_by_chars_seen(model, taken, **scored), None))
    report = {"model": source_ref, "unit": model.unit, "corpus": source, "split": split,
              **result.as_dict()}
    if bands is not None:
        report["breakdown"] = bands.as_dict()
    if args.json:
        print(json.dumps(report, allow_nan=False))
        return 0
    print(f"{model.unit}: {result.chars:,} characters, cross-entropy {result.cross_entropy:.4f}")
    _print_accuracy("chars seen", result)
    for label, band in zip(bands.labels, bands.results) if bands else ():
        print(f"\n{label} ({band.chars:,} characters)")
        _print_accuracy("chars seen", band)
    return 0


def _print_accuracy(heading: str, result: AccuracyResult, columns: int = 10) -> None:
    print(f"{heading:11s} " + " ".join(f"{n:>6d}" for n in range(min(columns, len(result.top1)))))
    for k in ("top1", "top2", "top3"):
        print(f"{k:11s} " + " ".join(f"{v:6.3f}" for v in getattr(result, k)[:columns]))


def run_memory(args) -> int:
    if (args.corpus is None) == (args.text_file is None):
        raise InputError("give exactly one of --corpus or --text-file")
    if args.positions < 1:
        raise InputError("--positions must be at least 1")
    model, source_ref = _load(args.model)
    if args.text_file is not None:
        texts, source, split = Path(args.text_file), args.text_file, "text-file"
    else:
        dataset = dataset_like(model, args.corpus, args.data_seed, log=_stderr)
        texts, source, split = sequence_texts(dataset, args.split), dataset.description or args.corpus, args.split
    with tqdm(total=args.positions, unit="pos", desc=f"memory {model.unit}", file=sys.stderr, disable=None) as bar:
        profile = memory_profile(model, texts, positions=args.positions, seed=args.seed,
                                 progress=lambda done, total: bar.update(done - bar.n))
    report = {"model": source_ref, "corpus": source, "split": split, **profile.summary()}
    if args.csv is not None:
        try:
            Path(args.csv).write_bytes(csv_bytes(export_frame([(model.unit, source_ref, profile)])))
        except OSError as error:
            raise InputError(f"cannot write {args.csv}: {error.strerror or error}") from error
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{model.unit}: {profile.positions:,} positions in {profile.sequences} sequences (seed {args.seed})")
        for name in MEASURES:
            m = profile.means[name]
            print(f"  {name:14s} {m['mean']:7.3f}  (95% interval {m['low']:.3f} to {m['high']:.3f})")
    return 0
