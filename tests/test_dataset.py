import numpy as np

from rnnmem.dataset import (EOS_ID, UNKNOWN_ID, DatasetConfig, align, build_dataset, build_vocabulary,
                            pack_sequences, prepare_dataset, split_indices)
from rnnmem.text import normalize


def test_vocabulary_is_specials_then_most_frequent():
    words = "b a b c b a".split()
    assert build_vocabulary(words, 2) == ["<eos>", "<unknown>", "b", "a"]


def test_alignment_of_a_hand_written_sentence():
    vocab = {"<eos>": 0, "<unknown>": 1, "the": 2, "cat": 3}
    chars, targets = align(" the cat sat", vocab)
    #                  ' '  t  h  e  ' ' c  a  t  ' ' s  a  t
    assert targets.tolist() == [2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1]
    assert chars.tolist() == [1, 21, 9, 6, 1, 4, 2, 21, 1, 20, 2, 21]
    _, targets = align(" the ", vocab)
    assert targets.tolist() == [2, 2, 2, 2, EOS_ID]  # the word after the trailing space is unknown yet


def test_packing_never_splits_a_word():
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 15, size=2000)
    lengths[7] = 60  # longer than a sequence: dropped
    starts, seq_lengths = pack_sequences(lengths, 40)
    boundaries = set(np.concatenate([[0], np.cumsum(lengths)]).tolist())
    assert seq_lengths.max() <= 40
    for s, n in zip(starts.tolist(), seq_lengths.tolist()):
        assert s in boundaries and s + n in boundaries  # sequences start and end between words
    # every word except the dropped one is in exactly one sequence
    assert seq_lengths.sum() == lengths.sum() - 60


def test_split_is_deterministic_and_disjoint():
    config = DatasetConfig(seed=3)
    a, b = split_indices(1000, config), split_indices(1000, config)
    for name in a:
        assert np.array_equal(a[name], b[name])
    assert len(a["valid"]) == len(a["test"]) == 50 and len(a["train"]) == 900
    assert not set(a["train"]) & set(a["test"]) and not set(a["valid"]) & set(a["test"])
    assert not np.array_equal(split_indices(1000, DatasetConfig(seed=4))["test"], a["test"])


def test_sequences_start_with_a_space_and_targets_match_words():
    text = normalize("the cat sat on the mat " * 50)
    dataset = build_dataset(text, DatasetConfig(vocab_words=3, max_seq_len=20))
    for s, n in zip(dataset.starts.tolist(), dataset.lengths.tolist()):
        assert dataset.chars[s] == 1
        assert text[s + n] == " " or s + n == len(text.rstrip())
    assert set(dataset.words) == {"<eos>", "<unknown>", "the", "cat", "sat"}
    assert UNKNOWN_ID in dataset.targets.tolist()  # "on" and "mat" are out of vocabulary


def test_prepared_dataset_is_cached_and_reloads_identically(tmp_path, toy_corpus):
    config = DatasetConfig(vocab_words=10, max_seq_len=30)
    logs = []
    first = prepare_dataset(str(toy_corpus), config, cache_root=tmp_path, log=logs.append)
    second = prepare_dataset(str(toy_corpus), config, cache_root=tmp_path, log=logs.append)
    assert "prepared" in logs[0] and "reloaded" in logs[1]
    assert np.array_equal(first.chars, second.chars) and np.array_equal(first.targets, second.targets)
    assert isinstance(second.chars, np.memmap)
    other = prepare_dataset(str(toy_corpus), DatasetConfig(vocab_words=5, max_seq_len=30), cache_root=tmp_path,
                            log=logs.append)
    assert "prepared" in logs[2] and len(other.words) == 7


def test_two_writers_of_one_prepared_corpus_leave_one_complete_copy(tmp_path):
    """Each writer has its own temporary folder; the second to finish finds the folder in place and
    discards its own copy instead of failing or mixing files."""
    from rnnmem.dataset import build_dataset, load_dataset, save_dataset

    from .conftest import toy_text

    dataset = build_dataset(toy_text(3000), DatasetConfig(vocab_words=20, max_seq_len=40), "toy")
    folder = tmp_path / "datasets" / "key"
    save_dataset(dataset, folder)
    save_dataset(dataset, folder)  # the slower writer
    assert sorted(p.name for p in folder.parent.iterdir()) == ["key"]  # no temporary folder left
    loaded = load_dataset(folder)
    assert np.array_equal(loaded.chars, dataset.chars) and loaded.words == dataset.words
