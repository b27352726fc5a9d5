"""Model cards: a README.md with Hub metadata (YAML front matter) beside every saved model."""

from __future__ import annotations

import json
from pathlib import Path

from .model import AutocompleteRNN
from .units import UNIT_NAMES

ARTICLE_URL = "https://distill.pub/2019/memorization-in-rnns/"
DATA_CREDIT = (
    "Trained on Wikipedia text (licence CC BY-SA 3.0 / GFDL): text8 (Matt Mahoney) or a text8-style "
    "cleaned extract of English Wikipedia. Credit: Wikipedia contributors."
)


def _front_matter(model: AutocompleteRNN, evaluation: dict | None) -> str:
    unit = UNIT_NAMES[model.config.unit]
    lines = [
        "---",
        "library_name: rnnmem",
        # The weights are derived from Wikipedia text, so the card carries the data's licence.
        "license: cc-by-sa-3.0",
        "language: en",
        "datasets:",
        "- text8",
        "- wikipedia",
        "tags:",
        "- rnnmem",
        "- autocomplete",
        "- character-level",
        f"- {model.config.unit}",
        # no pipeline_tag: no Hub pipeline predicts a word from every character typed
    ]
    if evaluation and evaluation.get("accuracy_by_chars_seen"):
        acc = evaluation["accuracy_by_chars_seen"]
        lines += [
            "model-index:",
            f"- name: rnnmem-{model.config.unit}",
            "  results:",
            "  - task:",
            # a class (the word being typed) for every input character: token classification, not a
            # classification of the whole text
            "      type: token-classification",
            "      name: word autocomplete from characters",
            "    dataset:",
            f"      name: {json.dumps(evaluation.get('corpus', 'wikipedia'))}",
            "      type: text8",
            f"      split: {evaluation.get('split', 'test')}",
            "    metrics:",
            "    - type: cross_entropy",
            f"      value: {evaluation['cross_entropy']:.4f}",
            f"      name: cross-entropy ({unit})",
        ]
        for n in range(min(4, len(acc["top1"]))):
            lines += [
                "    - type: accuracy",
                f"      value: {acc['top1'][n]:.4f}",
                f"      name: top-1 accuracy at {n} characters seen",
            ]
    lines.append("---")
    return "\n".join(lines)


def repetition_section(breakdown: dict, columns: int = 5) -> list[str]:
    """Markdown lines for the accuracy broken down by repetition (rnnmem.breakdowns): top-1 given characters
    seen on rarer words new in their sequence and on rarer words already read in it."""
    lines = ["### Rarer words, new or already read in their sequence", "",
             "Top-1 accuracy given characters seen, beyond the 100 most frequent words (`python -m rnnmem evaluate "
             "--by repetition`). A model that remembers the words it read types a word it already read from "
             "fewer letters; a repeated word also sits later in its sequence and on its topic, so compare this "
             "gap between models rather than against zero.", "",
             "| | characters | " + " | ".join(str(n) for n in range(columns)) + " |",
             "|---|---" + "|---" * columns + "|"]
    for label, band in breakdown["bands"].items():
        if label.startswith("rarer"):
            rates = band["accuracy_by_chars_seen"]["top1"][:columns]
            lines.append(f"| {label} | {band['chars']:,} | " + " | ".join(f"{v:.3f}" for v in rates) + " |")
    return lines


def _interval(figure: dict, show, unit: str = "") -> str:
    """"mean (low–high)" of a recall figure (rnnmem.recall's summary), as the Memory page's recall table
    shows it; "–" where it is None: no lift where no control letters, or next to nothing, sat that far back."""
    if figure["mean"] is None:
        return "–"
    interval = f" ({show(figure['low'])}–{show(figure['high'])})" if figure["low"] is not None else ""
    return show(figure["mean"]) + unit + interval


def recall_section(recall: dict) -> list[str]:
    """Markdown lines for recall against its control (rnnmem.recall) on the test split's first characters:
    share, expected share and lift over all recall moments and by how far back the word was read."""
    lines = ["### Recall of words read before", "",
             "At each recall moment (the first letter of a rarer word its sequence already read), the connectivity "
             "row's share on the earlier readings' letters (share), against the share an earlier rarer word's "
             "letters as far back get at control moments, the first letter of a rarer new word at the same place "
             "in its sequence (expected); lift = share / expected (`python -m rnnmem recall`). A lift above 1: the "
             "model looks back at the word it read more than at another rarer word as far back."]
    if not recall.get("moments"):
        return lines + ["", f"The first {recall['max_chars']:,} characters of the {recall['split']} split hold no "
                            "rarer word read twice in one sequence: nothing to measure."]
    percent, ratio = (lambda v: f"{100 * v:.1f}"), (lambda v: f"{v:.2f}")
    lines += ["", f"On the first {recall['characters']:,} characters of the {recall['split']} split: "
                  f"{recall['moments']:,} recall moments in {recall['sequences']:,} sequences, "
                  f"{recall['controls']:,} control moments (seed {recall['seed']}); mean and 95% interval "
                  "(bootstrap over sequences):", "",
              "| read back | moments | share | expected | lift |", "|---|---|---|---|---|"]
    for label, figures in [("all", recall), *recall["by_distance"].items()]:
        lines.append(f"| {label} | {figures['moments']:,} | {_interval(figures['share'], percent, '%')} | "
                     f"{_interval(figures['expected'], percent, '%')} | {_interval(figures['lift'], ratio)} |")
    return lines


def memory_section(memory: dict) -> list[str]:
    """Markdown lines for the memory measure (rnnmem.memory): on held-out text with 95% intervals, on the
    article's walkthrough paragraph beside the article's own models, its three walkthrough moments, and
    recall against its control where measured."""
    lines = ["## Memory", "",
             "How far back the model looks (`python -m rnnmem memory`): for each output position, the distance "
             "back holding 50% / 90% of its connectivity (d50, d90), and the connectivity's share on "
             "characters before the current word (context share)."]
    held_out = memory.get("held_out")
    if held_out:
        lines += ["", f"On {held_out['positions']:,} positions of the {held_out.get('split', 'test')} split "
                      f"({held_out['sequences']} sequences, seed {held_out['seed']}), mean and 95% interval:", "",
                  "| measure | mean | 95% interval |", "|---|---|---|"]
        for name in ("context_share", "d50", "d90"):
            m = held_out[name]
            lines.append(f"| {name.replace('_', ' ')} | {m['mean']:.3f} | {m['low']:.3f} to {m['high']:.3f} |")
    paragraph = memory.get("walkthrough")
    if paragraph:
        lines += ["", "On the article's walkthrough paragraph (never training data), beside the article's "
                      "published 2×600 model of the same unit:", "",
                  "| | context share | d50 | d90 |", "|---|---|---|---|"]
        for label, row in (("this model", paragraph.get("model")), ("article", paragraph.get("article"))):
            if row:
                lines.append(f"| {label} | {row['context_share']:.3f} | {row['d50']:.2f} | {row['d90']:.2f} |")
    moments = memory.get("moments")
    if moments:
        lines += ["", "The walkthrough's three moments (rank of the word in the text among the model's "
                      "suggestions, and its probability):", "", "| moment | rank | probability | top 3 |",
                  "|---|---|---|---|"]
        for moment in moments:
            rank = moment["rank"] if moment["rank"] is not None else "> 3"
            top = ", ".join(moment["top3"])
            probability = "not in vocabulary" if moment["probability"] is None else f"{moment['probability']:.3f}"
            lines.append(f"| {moment['label']} | {rank} | {probability} | {top} |")
    if memory.get("recall"):
        lines += ["", *recall_section(memory["recall"])]
    return lines


def model_card_text(model: AutocompleteRNN, training: dict | None = None, evaluation: dict | None = None,
                    extra_sections: str = "", memory: dict | None = None) -> str:
    """The whole README.md: metadata, what the model is, how it was trained, how it scores."""
    c = model.config
    unit = UNIT_NAMES[c.unit]
    params = sum(p.numel() for p in model.parameters())
    body = [
        _front_matter(model, evaluation),
        "",
        f"# rnnmem {unit} autocomplete model ({c.num_layers}×{c.hidden_size})",
        "",
        f"A character-level {unit} that predicts, at every character typed, the word being typed "
        f"(the task of the Distill article [Visualizing memorization in RNNs]({ARTICLE_URL})). "
        "Load it with `rnnmem.load_model(\"PATH_OR_hf://OWNER/NAME\")` from the rnnmem package, which "
        "checks that the files match and records the Hub commit.",
        "",
        "| field | value |",
        "|---|---|",
        f"| unit | {unit} (`{c.unit}`) |",
        f"| layers × units | {c.num_layers} × {c.hidden_size} |",
        f"| character embedding | 28 × {c.embedding_size} |",
        f"| word classes | {c.vocab_size:,} ({c.vocab_size - 2:,} words + `<eos>`, `<unknown>`) |",
        f"| parameters | {params:,} |",
        f"| sequence length | {c.max_seq_len} characters |",
    ]
    if c.unit == "nlstm":
        body += ["", f"Nested LSTM of depth 2 (Moniz & Krueger 2018), {c.num_layers} layer(s). One layer of "
                 "depth 2 is the article's published code; it has exactly the parameters of a 2-layer LSTM "
                 "of the same width, and two levels of memory."]
    if training:
        body += ["", "## Training", "", "| field | value |", "|---|---|"]
        for key in ("corpus", "characters_seen", "steps", "epochs_completed", "batch_size", "softmax",
                    "learning_rate", "learning_rate_schedule", "gradient_clipping", "repeated_word_weight",
                    "device", "gpu", "precision", "seconds", "wall_seconds", "stopped", "final_train_loss",
                    "final_valid_loss"):
            if training.get(key) is not None:  # no training loss is known for a run's last, stepless row
                value = training[key]
                if isinstance(value, float):
                    value = f"{value:g}" if key in ("learning_rate", "gradient_clipping") else (
                        f"{value:g} (the loss's weight at the letters of a rarer word already read in its "
                        "sequence; 1 elsewhere)" if key == "repeated_word_weight" else
                        f"{value:.4f}" if value < 100 else f"{value:,.0f}")
                elif isinstance(value, int):
                    value = f"{value:,}"
                body.append(f"| {key.replace('_', ' ')} | {value} |")
        if training.get("warm_start"):
            start = training["warm_start"]
            body.append(f"| warm start | from `{start['from']}`, which had seen "
                        f"{start['characters_seen_before']:,} characters (counted above) |")
        body += ["", "Loss: softmax cross-entropy over all word classes at every character, with `<eos>` "
                 "and `<unknown>` targets masked out (validation loss always uses the full softmax)."
                 + (" The training loss (of the last stage) weighed the characters of repeated rarer words as the "
                    "table says; the validation loss is the plain mean. The weight asks the model to recall the "
                    "rarer words it read, at the price of overrating them somewhat."
                    if training.get("repeated_word_weight") else "")]
    if evaluation:
        acc = evaluation["accuracy_by_chars_seen"]
        n_cols = min(9, len(acc["top1"]))
        header = " | ".join(str(n) for n in range(n_cols))
        body += ["", f"## Evaluation ({evaluation.get('split', '')} split, {evaluation['chars']:,} characters)",
                 "", f"Cross-entropy: {evaluation['cross_entropy']:.4f}.", "",
                 "Accuracy given the number of characters of the word already seen:", "",
                 f"| | {header} |", "|---" * (n_cols + 1) + "|"]
        for k in ("top1", "top2", "top3"):
            body.append(f"| {k} | " + " | ".join(f"{v:.3f}" for v in acc[k][:n_cols]) + " |")
        if evaluation.get("article_top1"):
            body.append("| article top1 | " + " | ".join(f"{v:.3f}" for v in evaluation["article_top1"][:n_cols])
                        + " |")
        if (evaluation.get("breakdown") or {}).get("by") == "repetition":
            body += ["", *repetition_section(evaluation["breakdown"])]
    if memory:
        body += ["", *memory_section(memory)]
    body += ["", "## Data and licence", "", DATA_CREDIT,
             "Model code: MIT. Task and analysis after Madsen, \"Visualizing memorization in RNNs\", "
             "Distill, 2019.", ""]
    if extra_sections:
        body += [extra_sections, ""]
    return "\n".join(body)


def write_model_card(directory: str | Path, model: AutocompleteRNN, training: dict | None = None,
                     evaluation: dict | None = None, extra_sections: str = "", memory: dict | None = None) -> Path:
    path = Path(directory) / "README.md"
    path.write_text(model_card_text(model, training, evaluation, extra_sections, memory))
    return path
