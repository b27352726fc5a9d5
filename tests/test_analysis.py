import threading

import numpy as np
import pytest
import torch

from rnnmem.analysis import (AccuracyAccumulator, accuracy_by_chars_seen, chars_seen_of, connectivity,
                             connectivity_matrix, predictions, prepare_text, suggest, suggest_each_prefix)
from rnnmem.errors import InputError
from rnnmem.refs import ModelRef, ModelRefError, load, load_model, parse_model_ref

UNITS = ("rnn", "gru", "lstm", "nlstm")
TEXT = "the cat sat on a mat and the dog ran to big red hou"


def test_suggest_normalises_text_and_ranks_words(trained_model_dir):
    model = load_model(str(trained_model_dir))
    result = suggest(model, "The CAT, s", k=3)
    assert result.text == " the cat s" and result.prefix == "s"
    assert len(result.words) == 3 and list(result.probabilities) == sorted(result.probabilities, reverse=True)
    assert "<unknown>" not in result.words and "<eos>" not in result.words
    assert result.words[0] == "sat"  # the only toy word starting with "s"
    fresh = suggest(model, "the cat ", k=2)
    assert fresh.prefix == "" and fresh.text.endswith(" ")


@pytest.mark.parametrize("empty", ["", "   ", "?!…", "\x00\n"])
def test_an_empty_context_predicts_the_first_word_from_the_leading_space(tiny_models, empty):
    """The Autocomplete page's letter-by-letter table asks for the context before the first word: the
    leading space alone. It is a valid input, answered by the model's output after that space."""
    model = tiny_models["lstm"]
    result = suggest(model, empty, k=3)
    assert result.text == " " and result.prefix == ""
    top, probabilities = predictions(model, prepare_text(model, " the"), k=3)
    assert [model.words[i] for i in top[0]] == list(result.words)  # the output after the leading space
    np.testing.assert_allclose(result.probabilities, probabilities[0], atol=1e-6)


@pytest.mark.parametrize("unit", UNITS)
def test_one_forward_pass_answers_for_every_prefix_as_suggest_does(tiny_models, unit):
    model = tiny_models[unit]
    text = " the cat s"
    each = suggest_each_prefix(model, text, k=4, first=3)
    assert [s.text for s in each] == [text[:t + 1] for t in range(3, len(text))]
    for answer in each:
        alone = suggest(model, answer.text, k=4)
        assert (answer.text, answer.prefix, answer.words) == (alone.text, alone.prefix, alone.words)
        np.testing.assert_allclose(answer.probabilities, alone.probabilities, atol=2e-6)
    assert suggest_each_prefix(model, text, k=2)[0].text == " "  # the empty context
    with pytest.raises(InputError, match="out of range"):
        suggest_each_prefix(model, text, first=len(text))


@pytest.mark.parametrize("k", [float("inf"), 1e309, float("nan"), 2.0, "x", "3", None, True, 0, -1, 101, 10**30])
def test_suggest_refuses_a_k_that_is_not_a_whole_number_from_1_to_100(tiny_models, k):
    model = tiny_models["gru"]
    with pytest.raises(InputError, match="k must be a whole number from 1 to 100"):
        suggest(model, "the cat", k)
    with pytest.raises(InputError, match="k must be a whole number from 1 to 100"):
        model.suggest("the cat", k)
    with pytest.raises(InputError, match="k must be a whole number from 1 to 100"):
        connectivity_matrix(model, "the cat", k=k)
    assert len(suggest(model, "the cat", np.int64(2)).words) == 2


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, None])
def test_accuracy_refuses_a_batch_size_below_one(tiny_models, batch_size):
    with pytest.raises(InputError, match="batch size must be a whole number of at least 1"):
        accuracy_by_chars_seen(tiny_models["gru"], TEXT, batch_size=batch_size)


def test_connectivity_refuses_a_target_that_is_not_a_word(tiny_models):
    with pytest.raises(InputError, match="target must be a word"):
        connectivity(tiny_models["gru"], "the cat", 3, target=["cat"])


def test_prepare_text_rejects_unusable_text(tiny_models):
    model = tiny_models["gru"]
    for bad in ("", "   ", "?!…", "<>"):
        with pytest.raises(InputError, match="empty"):
            prepare_text(model, bad)
    with pytest.raises(InputError, match="limit"):
        prepare_text(model, "ab " * 50_000)


@pytest.mark.parametrize("unit", UNITS)
def test_connectivity_matches_finite_differences(tiny_models, unit):
    """Independent check: central differences of the desired logit w.r.t. each one-hot input entry,
    in float64, through the embedding (x_τ + δ e_c enters as E[x_τ] + δ E[c])."""
    model = tiny_models[unit]
    text, position = " the cat sat", 9
    values = connectivity(model, text, position)
    double = type(model)(model.config).double().eval()
    double.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    prepared = prepare_text(model, text)
    ids = torch.from_numpy(prepared.chars.astype(np.int64))[: position + 1]
    E = double.embedding.weight.detach()
    base = E[ids]  # (t+1, d)
    y = int(prepared.targets[position])
    assert y > 1  # "sat" is in the toy vocabulary, so it is the desired word

    def logit(embedded):
        with torch.no_grad():
            return double.output(double.recurrent_from_embeddings(embedded[None])[0, -1])[y].item()

    delta = 1e-5
    expected = np.zeros(position + 1)
    for tau in range(position + 1):
        grad = np.zeros(28)
        for c in range(28):
            plus, minus = base.clone(), base.clone()
            plus[tau] += delta * E[c]
            minus[tau] -= delta * E[c]
            grad[c] = (logit(plus) - logit(minus)) / (2 * delta)
        expected[tau] = (grad ** 2).sum()
    np.testing.assert_allclose(values[: position + 1], expected, rtol=1e-3, atol=1e-9)
    assert (values[position + 1:] == 0).all()


@pytest.mark.parametrize("unit", UNITS)
def test_matrix_equals_per_position_results(tiny_models, unit):
    model = tiny_models[unit]
    result = connectivity_matrix(model, TEXT)
    T = len(result.text)
    assert result.connectivity.shape == (T, T)
    for position in range(T):
        np.testing.assert_allclose(result.connectivity[position], connectivity(model, TEXT, position),
                                   rtol=2e-4, atol=1e-10)
    assert np.allclose(np.triu(result.connectivity, 1), 0)
    # the unfinished word "hou" is not in the vocabulary: the desired word is the top prediction
    assert not result.desired_in_text[-1] and result.desired[-1] == result.top_words[-1][0]
    assert result.desired_in_text[1] and result.desired[1] == "the"
    assert result.scaled_row(5).max() == pytest.approx(1.0)


def test_connectivity_target_and_position_errors(tiny_models):
    model = tiny_models["gru"]
    with_target = connectivity(model, " the cat", 6, target="dog")
    default = connectivity(model, " the cat", 6)
    assert not np.allclose(with_target, default)
    with pytest.raises(InputError, match="vocabulary"):
        connectivity(model, " the cat", 6, target="zebra")
    with pytest.raises(InputError, match="out of range"):
        connectivity(model, " the cat", 8)
    with pytest.raises(InputError, match="out of range"):
        connectivity(model, " the cat", -1)


def test_attribution_is_thread_safe_and_leaves_the_model_untouched(tiny_models):
    model = tiny_models["lstm"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    texts = [TEXT, "the dog ran", "big red house on a mat", "a cat"]
    serial = {t: (connectivity_matrix(model, t).connectivity, connectivity(model, t, 3)) for t in texts}
    results, errors = [], []
    # OpenMP keeps its thread count per thread and a fresh thread starts at one per core, whatever an earlier
    # test set here (the app's configure_runtime sets one): its first matrix products would add up in
    # another order, a difference in the 7th digit. The matrices are compared bit for bit, so each thread
    # runs with this thread's count, as every script run of the app does with its own.
    main_threads = torch.get_num_threads()

    def work(text):
        try:
            torch.set_num_threads(main_threads)
            for _ in range(3):
                results.append((text, connectivity_matrix(model, text).connectivity, connectivity(model, text, 3)))
        except Exception as error:  # noqa: BLE001 - surfaced below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(t,)) for t in texts * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 24
    for text, matrix, row in results:
        assert np.array_equal(matrix, serial[text][0]) and np.array_equal(row, serial[text][1])
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert all(p.grad is None for p in model.parameters())


def test_chars_seen_counts_letters_of_the_current_word():
    is_space = np.array([c == " " for c in " the cat"])
    assert chars_seen_of(is_space).tolist() == [0, 1, 2, 3, 0, 1, 2, 3]


def test_accuracy_accumulator_on_a_hand_made_example():
    # vocabulary: 0 <eos>, 1 <unknown>, 2 "ab", 3 "c", 4 "d"; text " ab c" + padding
    chars = np.array([[1, 2, 3, 1, 4, 0]])
    targets = np.array([[2, 2, 2, 3, 3, 0]])
    logits = torch.full((1, 6, 5), -5.0)
    ranking = {0: [3, 4, 2], 1: [2, 3, 4], 2: [4, 2, 3], 3: [2, 4, 3], 4: [3, 2, 4]}  # best first
    for t, order in ranking.items():
        for rank, word in enumerate(order):
            logits[0, t, word] = 3.0 - rank
        logits[0, t, 1] = 10.0  # <unknown> scores highest but never counts as a prediction
    acc = AccuracyAccumulator()
    acc.add(logits, chars, targets)
    result = acc.result()
    # chars seen: t0 0, t1 1, t2 2, t3 0, t4 1. Target rank: t0 3rd, t1 1st, t2 2nd, t3 3rd, t4 1st.
    assert result.counts == [2, 2, 1]
    assert result.correct == {"top1": [0, 2, 0], "top2": [0, 2, 1], "top3": [2, 2, 1]}
    assert result.top1 == [0.0, 1.0, 0.0] and result.top3 == [1.0, 1.0, 1.0]
    assert result.chars == 5


def test_accuracy_by_chars_seen_agrees_with_predictions(trained_model_dir):
    model = load_model(str(trained_model_dir))
    text = "the cat sat on a mat and the dog"  # one sequence (the model's max_seq_len is 40)
    result = accuracy_by_chars_seen(model, text)
    prepared = prepare_text(model, text)
    top, _ = predictions(model, prepared, k=3)
    seen = chars_seen_of(prepared.chars == 1)
    for n in range(len(result.counts)):
        rows = (seen == n) & (prepared.targets > 1)
        assert result.counts[n] == rows.sum()
        assert result.correct["top1"][n] == (top[rows, 0] == prepared.targets[rows]).sum()
        assert result.correct["top3"][n] == (top[rows] == prepared.targets[rows, None]).any(1).sum()
    assert result.top3[3] == 1.0  # trained: after 3 letters the toy words are unambiguous
    with pytest.raises(InputError):
        accuracy_by_chars_seen(model, "zebra quagga")


def test_model_references_parse_and_route(tmp_path, trained_model_dir):
    assert parse_model_ref("gru") == ModelRef("shipped", "gru")
    assert parse_model_ref("article/lstm") == ModelRef("shipped", "article/lstm")
    assert parse_model_ref("hf://me/my-gru") == ModelRef("hub", "me/my-gru", None)
    assert parse_model_ref("hf://me/my-gru@v1.0") == ModelRef("hub", "me/my-gru", "v1.0")
    assert str(parse_model_ref("hf://me/my-gru@abc123")) == "hf://me/my-gru@abc123"
    assert parse_model_ref(str(trained_model_dir)).kind == "local"
    for bad in ("", "hf://", "hf://noslash", "hf://a/b@", "hf://a/../b", "transformer"):
        with pytest.raises(ModelRefError):
            parse_model_ref(bad)
    with pytest.raises(ModelRefError, match="not found"):
        load_model(str(tmp_path / "missing"))
    loaded = load(str(trained_model_dir))
    assert (loaded.ref.kind, str(loaded.ref), loaded.files_dir) == ("local", str(trained_model_dir), trained_model_dir)
    assert loaded.revision is None and loaded.notice is None and not loaded.model.training


def test_out_of_vocabulary_words_get_one_stand_in_per_word(tiny_models):
    """Where the text's word is not in the vocabulary, the explained word is the model's top guess at
    that word's last character, for every character of the word (it must not change letter by letter)."""
    from rnnmem.analysis import desired_ids, text_words, word_spans

    model = tiny_models["lstm"]
    text = "the zebra sat on the quokka"  # zebra and quokka are not in the toy vocabulary
    result = connectivity_matrix(model, text)
    prepared = prepare_text(model, text)
    top_ids, _ = predictions(model, prepared, k=1)
    words = text_words(result.text)
    for word in ("zebra", "quokka"):
        span = [t for t, w in enumerate(words) if w == word]
        assert len(span) == len(word) + 1  # the leading space and every letter
        assert {result.desired[t] for t in span} == {model.words[top_ids[span[-1], 0]]}
        assert not any(result.desired_in_text[t] for t in span)
        t = span[1]
        assert np.allclose(connectivity(model, text, t), result.row(t), rtol=1e-4, atol=1e-7)
    sat = [t for t, w in enumerate(words) if w == "sat"]
    assert {result.desired[t] for t in sat} == {"sat"} and all(result.desired_in_text[t] for t in sat)
    assert word_spans(" ab c ").tolist() == [2, 2, 2, 4, 4, 5]  # a trailing space is a word of its own
    ids, in_text = desired_ids(prepare_text(model, "the cat "), np.arange(9))  # " the cat "
    assert ids[-1] == 8 and not in_text[-1]


@pytest.mark.parametrize("ref, message", [
    ("x" * 256, "unknown model"),  # one path component longer than the OS takes: stat() raises OSError
    ("x" * 301, "unknown model"),
    ("./" + "x" * 300, "model directory not found"),
    ("a/" + "x/" * 600, "limit is 1,024"),
    ("x" * 100_000, "limit is 1,024"),
    ("gru\x00", "control characters"),
    ("models/gru\n", "model directory not found"),  # stripped: a trailing newline is not part of a name
])
def test_long_and_odd_model_references_are_refused_with_a_message(ref, message):
    with pytest.raises(ModelRefError, match=message):
        load_model(ref)
