"""The attribution methods beside the article's connectivity: hand-checked on a quadratic, gradient × input
against the gradient taken on the one-hot input itself, integrated gradients' completeness, the explained
word (desired, a suggestion, any vocabulary word), and that nothing touches the model."""

import numpy as np
import pytest
import torch

from rnnmem.analysis import connectivity, connectivity_matrix, predictions, prepare_text
from rnnmem.attribution_methods import (IG_TOLERANCE, METHODS, attribution, gradient_x_input,
                                        integrated_gradients)
from rnnmem.errors import InputError

UNITS = ("rnn", "gru", "lstm", "nlstm")
TEXT = "the cat sat on a mat and the dog ran"


def quadratic(inputs):
    """f(e) = Σ_τ Σ_j a_j e_τj², a = (0.5, 2): gradient 2 a e, so gradient × input is 2 a e² and the
    integrated gradients from zero are a e² (the integrand is linear in α: the midpoint rule is exact)."""
    return (torch.tensor([0.5, 2.0]) * inputs ** 2).sum((1, 2))


E = torch.tensor([[[1.0, 2.0], [3.0, -1.0]]])  # (1, 2 positions, 2 dimensions)


def test_gradient_x_input_by_hand():
    # position 0: 2·(0.5·1 + 2·4) = 17; position 1: 2·(0.5·9 + 2·1) = 13
    assert gradient_x_input(quadratic, E).sum(-1).tolist() == [[17.0, 13.0]]


def test_integrated_gradients_by_hand_and_complete():
    shares = integrated_gradients(quadratic, E, torch.zeros_like(E), n_steps=8).sum(-1)
    np.testing.assert_allclose(shares.tolist(), [[8.5, 6.5]], rtol=1e-6)  # a e²: half of gradient × input
    assert float(shares.sum()) == pytest.approx(float(quadratic(E) - quadratic(torch.zeros_like(E))))  # 15


@pytest.mark.parametrize("unit", UNITS)
def test_gradient_x_input_is_the_one_hot_gradient_at_each_character(tiny_models, unit):
    """Independently: the one-hot input as a leaf, embedded by a matrix product, and the gradient's entry
    at the character actually there (∂f/∂x_τ · x_τ for a one-hot x_τ)."""
    model = tiny_models[unit]
    prepared = prepare_text(model, TEXT)
    position = 13
    result = attribution(model, TEXT, position, "grad_x_input")
    one_hot = torch.nn.functional.one_hot(torch.from_numpy(prepared.chars[:position + 1].astype(np.int64)),
                                          model.embedding.num_embeddings).float().requires_grad_(True)
    hidden = model.recurrent_from_embeddings((one_hot @ model.embedding.weight)[None])[0, position]
    (grad,) = torch.autograd.grad(model.output(hidden)[model.word_ids[result.word]], one_hot)  # (t+1, 28)
    expected = (grad * one_hot).sum(-1).detach().numpy()
    np.testing.assert_allclose(result.values[:position + 1], expected, rtol=1e-4, atol=1e-6)
    assert not result.values[position + 1:].any() and (result.values < 0).any()  # signed, zero after t


@pytest.mark.parametrize("unit", UNITS)
def test_integrated_gradients_are_complete(tiny_models, unit):
    """Σ_τ IG_τ = f(x) − f(baseline): with many points, and with the default points' doubling."""
    model = tiny_models[unit]
    many = attribution(model, TEXT, 20, "integrated_gradients", n_steps=512)
    assert abs(many.completeness_gap()) <= 1e-3 * max(1.0, abs(many.logit - many.baseline_logit))
    assert many.logit != pytest.approx(many.baseline_logit)  # a real difference is shared out
    default = attribution(model, TEXT, 20, "integrated_gradients")
    assert abs(default.completeness_gap()) <= IG_TOLERANCE * max(1.0, abs(default.logit - default.baseline_logit))
    spaces = [i for i, c in enumerate(many.text[:21]) if c == " "]
    assert not many.values[spaces].any() and many.values[[1, 2, 3]].all()  # a space is the baseline: 0


def test_the_default_method_is_the_articles_connectivity(tiny_models):
    model = tiny_models["gru"]
    row = attribution(model, TEXT, 9)
    np.testing.assert_array_equal(row.values, connectivity(model, TEXT, 9))
    np.testing.assert_allclose(row.values, connectivity_matrix(model, TEXT).row(9), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(row.scaled_row().max(), 1.0)
    assert row.word == "sat" and row.completeness_gap() is None


def test_the_explained_word_is_the_desired_a_suggestion_or_a_vocabulary_word(tiny_models):
    model = tiny_models["lstm"]
    top, _ = predictions(model, prepare_text(model, TEXT), k=3)
    assert attribution(model, TEXT, 5, "grad_x_input").word == "cat"
    assert attribution(model, TEXT, 5, "grad_x_input", "top-2").word == model.words[top[5, 1]]
    chosen = attribution(model, TEXT, 5, "integrated_gradients", "dog", n_steps=16)
    assert chosen.word == "dog"
    assert not np.allclose(chosen.values, attribution(model, TEXT, 5, "integrated_gradients", n_steps=16).values)
    np.testing.assert_array_equal(attribution(model, TEXT, 5, "grad_sq", "top-3").values,
                                  connectivity(model, TEXT, 5, target=model.words[top[5, 2]]))
    for bad, message in (("zebra", "not in the model's vocabulary"), ("top-0", "rank"), ("top-x", "rank"),
                         ("<unknown>", "not in the model's vocabulary")):
        with pytest.raises(InputError, match=message):
            attribution(model, TEXT, 5, "grad_x_input", bad)
    with pytest.raises(InputError, match="unknown attribution method"):
        attribution(model, TEXT, 5, "saliency")
    with pytest.raises(InputError, match="n_steps"):
        attribution(model, TEXT, 5, "integrated_gradients", n_steps=1)


def one_hot_gradient_row(model, text: str, position: int, word: str) -> np.ndarray:
    """||∂z_position[word] / ∂x_τ||² taken on the one-hot inputs themselves, τ ≤ position."""
    prepared = prepare_text(model, text)
    chars = torch.from_numpy(prepared.chars.astype(np.int64))[: position + 1]
    one_hot = torch.nn.functional.one_hot(chars, model.embedding.num_embeddings).float()[None].requires_grad_(True)
    hidden = model.recurrent_from_embeddings(one_hot @ model.embedding.weight)[:, position]
    model.output(hidden)[0, model.word_ids[word]].backward()
    return one_hot.grad[0].pow(2).sum(-1).numpy()


def test_a_vocabulary_word_spelt_like_the_desired_keyword_is_explained_as_itself():
    """"desired" is a word of the shipped vocabularies: a suggestion or a typed word "desired" must explain
    that word's logit, not the text's own word (the keyword)."""
    from rnnmem.model import AutocompleteRNN
    from tests.conftest import tiny_config

    torch.manual_seed(5)
    model = AutocompleteRNN(tiny_config("gru", ["<eos>", "<unknown>", "the", "cat", "desired"])).eval()
    text, position = " the cat", 6
    top, _ = predictions(model, prepare_text(model, text), k=3)
    rank = [model.words[i] for i in top[position]].index("desired") + 1  # three words: all in the top 3
    desired_row = connectivity(model, text, position)  # the text's word, "cat"
    for target in ("word:desired", f"top-{rank}"):
        for method in ("grad_sq", "grad_x_input"):
            shown = attribution(model, text, position, method, target)
            assert shown.word == "desired", (target, method)
        shown = attribution(model, text, position, "grad_sq", target)
        assert not np.allclose(shown.values, desired_row)
        np.testing.assert_allclose(shown.values[:position + 1], one_hot_gradient_row(model, text, position, "desired"),
                                   rtol=1e-4, atol=1e-9)
    assert attribution(model, text, position, "grad_sq", "desired").word == "cat"
    with pytest.raises(InputError, match="'zebra' is not in the model's vocabulary"):
        attribution(model, text, position, "grad_sq", "word:zebra")


@pytest.mark.parametrize("method", list(METHODS))
def test_attribution_leaves_the_model_untouched(tiny_models, method):
    model = tiny_models["nlstm"]
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    attribution(model, TEXT, 12, method, n_steps=8 if method == "integrated_gradients" else None)
    for name, p in model.named_parameters():
        assert p.grad is None and torch.equal(p, before[name]), name


def test_integrated_gradients_say_when_they_miss_completeness():
    """``incomplete`` flags shares that miss f(x) − f(x') by more than the tolerance (the page warns then);
    the other methods are never flagged."""
    from rnnmem.attribution_methods import Attribution

    def result(shares_sum: float, baseline_logit: float | None = 0.0) -> Attribution:
        return Attribution(text=" ab", position=2, method="integrated_gradients", word="ab",
                           values=np.array([0.0, shares_sum, 0.0], dtype=np.float32), logit=10.0,
                           baseline_logit=baseline_logit, n_steps=512)

    assert not result(10.0 * (1 + IG_TOLERANCE / 2)).incomplete()
    assert result(10.0 * (1 + IG_TOLERANCE * 2)).incomplete()
    assert not result(123.0, baseline_logit=None).incomplete()
