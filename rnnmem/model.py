"""The autocomplete model: character embedding -> recurrent stack -> dense layer to word logits.

One class, ``AutocompleteRNN``, over one typed config; the recurrent unit is ``config.unit``, and what
differs between units (how the stack is built, its name on disk) is read from rnnmem.units. GRU, LSTM and
the vanilla RNN use PyTorch's fused layers; the Nested LSTM (Moniz & Krueger 2018) is rnnmem.nested_lstm.
Built on huggingface_hub's PyTorchModelHubMixin: a model directory is config.json + the weights (+ README.md
model card), and the model is always rebuilt from those files, loaded strictly. The weights are either one
model.safetensors or, saved with a ``max_shard_size``, huggingface_hub's sharded layout: shards
model-00001-of-0000N.safetensors and the index model.safetensors.index.json naming each tensor's shard.
"""
# No `from __future__ import annotations` here: the Hub mixin reads the type of `config` at runtime
# to rebuild the dataclass from config.json.

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
import huggingface_hub
from huggingface_hub import PyTorchModelHubMixin, save_torch_state_dict
from safetensors import SafetensorError
from safetensors.torch import load_file

from .dataset import EOS_ID, UNKNOWN_ID
from .errors import ModelFilesError, UnreadableWeightsError
from .suggestions import Suggestions, suggest
from .text import CHAR_VOCAB_SIZE
from .units import UNIT_NAMES, UNITS  # noqa: F401 (UNIT_NAMES: rnnmem.model's API too)
from .units import unit as unit_of

WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"  # huggingface_hub's name for a sharded model's index
CONFIG_FILE = "config.json"
_MAX_INDEX_BYTES = 10_000_000  # an index is a small JSON map; anything larger is not one


@dataclass
class ModelConfig:
    unit: str = "gru"  # recurrent unit: rnn (tanh), gru, lstm, or nlstm (Nested LSTM of depth 2)
    hidden_size: int = 256  # units per recurrent layer (the article: 600)
    num_layers: int = 2  # stacked recurrent layers; the same for every unit (see README on Nested LSTM)
    embedding_size: int = 256  # character embedding width (the article: equal to hidden_size)
    words: list = field(default_factory=list)  # output classes: words[i] is class i; <eos>, <unknown> first
    max_seq_len: int = 200  # characters per training sequence (the article: 200)

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ModelFilesError(f"unknown unit {self.unit!r}; expected one of {', '.join(UNITS)}")
        if len(self.words) < 3:
            raise ModelFilesError("a model needs a vocabulary: <eos>, <unknown> and at least one word")
        for name in ("hidden_size", "num_layers", "embedding_size", "max_seq_len"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ModelFilesError(f"config field {name} must be a positive integer")

    @property
    def vocab_size(self) -> int:
        return len(self.words)


class AutocompleteRNN(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="rnnmem",
    tags=["rnnmem", "autocomplete", "character-level", "recurrent-neural-network"],
    license="cc-by-sa-3.0",  # of the training data (Wikipedia); the code is MIT
):
    """Predicts, at every character, the word being typed.

    ``forward(chars, targets=None) -> (logits, loss)``: chars (B, T) long character ids, targets (B, T)
    long word ids; logits (B, T, vocab); loss is the masked mean cross-entropy (``masked_cross_entropy``:
    targets <eos> and <unknown> do not count), or None without targets. Where the weights came from is not
    the module's business: rnnmem.refs.LoadedModel carries that beside it.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        H, L, E = config.hidden_size, config.num_layers, config.embedding_size
        self.embedding = nn.Embedding(CHAR_VOCAB_SIZE, E)
        spec = unit_of(config.unit)
        # The stack's attribute name is part of the weights' names on disk: recurrent.* for PyTorch's fused
        # layers (model.recurrent), layers.* for the Nested LSTM (model.layers).
        self.add_module(spec.stack_attribute, spec.build(E, H, L))
        self.output = nn.Linear(H, config.vocab_size)
        self.word_ids = {word: i for i, word in enumerate(config.words)}  # word -> class id, built once

    @property
    def unit(self) -> str:
        return self.config.unit

    @property
    def words(self) -> list:
        return self.config.words

    @property
    def stack(self) -> nn.Module:
        """The recurrent stack: ``stack(x) -> (out, state)``, x (B, T, E), out (B, T, H)."""
        return self.get_submodule(unit_of(self.config.unit).stack_attribute)

    def recurrent_outputs(self, chars: torch.Tensor) -> torch.Tensor:
        """Top recurrent layer's output at every step: chars (B, T) -> (B, T, H). Fresh state per call."""
        return self.recurrent_from_embeddings(self.embedding(chars))

    def read_on(self, chars: torch.Tensor, state=None):
        """``recurrent_outputs`` continuing from ``state``, and the state after the last step: chars (B, T)
        -> ((B, T, H), state). ``state`` is one this method returned (None: fresh), in the stack's own form
        (h; (h, c); each layer's (h, c_outer, c_inner)). Reading a text in pieces gives what reading it
        whole gives, up to float rounding: rnnmem.prefix_cache reads only the characters just typed."""
        return self.stack(self.embedding(chars), state)  # (B, T, H), state

    def recurrent_from_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """The recurrent stack on embedded characters: x (B, T, E) -> (B, T, H). Attribution enters here."""
        out, _ = self.stack(x)
        return out  # (B, T, H)

    def forward(self, chars: torch.Tensor, targets: Optional[torch.Tensor] = None, *,
                output_dtype: Optional[torch.dtype] = None):
        """``output_dtype=torch.bfloat16`` runs only the dense layer (16k words, most of the cost per
        character) in bfloat16 during training; the parameters and inference stay float32."""
        return self.head(self.recurrent_outputs(chars), targets, output_dtype=output_dtype)

    def head(self, hidden: torch.Tensor, targets: Optional[torch.Tensor] = None, *,
             output_dtype: Optional[torch.dtype] = None):
        """The dense layer and the loss on recurrent outputs hidden (B, T, H): ``(logits, loss)`` as
        ``forward``. Separate so that a training step can compute ``hidden`` another way (a CUDA graph)."""
        if output_dtype is None:
            logits = self.output(hidden)  # (B, T, V)
        else:
            with torch.autocast(hidden.device.type, dtype=output_dtype):
                logits = self.output(hidden)
        loss = None if targets is None else masked_cross_entropy(logits, targets)
        return logits, loss

    # ---- saving and loading -------------------------------------------------------------------------

    def save(self, directory, *, dtype: torch.dtype = torch.float32, max_shard_size: Optional[int] = None) -> Path:
        """Write config.json and the weights (``dtype`` float16 halves them; loading always gives float32):
        one model.safetensors, or with ``max_shard_size`` (bytes) huggingface_hub's sharded layout
        (shards of at most that size, except that a tensor larger than it gets a shard of its own, and
        model.safetensors.index.json). Weights of the other layout left in the directory are removed.
        The model card is written separately (rnnmem.modelcard)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._write_weights(directory, dtype, max_shard_size)
        # as the Hub mixin writes it, so that PyTorchModelHubMixin.from_pretrained rebuilds the config
        (directory / CONFIG_FILE).write_text(json.dumps(asdict(self.config), sort_keys=True, indent=2))
        return directory

    def _save_pretrained(self, save_directory: Path) -> None:
        # The mixin's save_pretrained / push_to_hub: float32, one file (the mixin writes config.json).
        self._write_weights(Path(save_directory), torch.float32, None)

    def _write_weights(self, directory: Path, dtype: torch.dtype, max_shard_size: Optional[int]) -> None:
        tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in self.state_dict().items()}
        # huggingface_hub's own serialisation: it also clears the directory of either layout's old files.
        # Without a shard size everything goes in one model.safetensors, as before sharding existed.
        save_torch_state_dict(tensors, directory, max_shard_size=max_shard_size or 2**62, metadata={"format": "pt"})

    def load_weights_file(self, path) -> "AutocompleteRNN":
        """Load one safetensors file strictly: every tensor present, no extra ones, shapes equal."""
        return self._load_checked(_read_safetensors(Path(path)))

    def load_weights(self, directory) -> "AutocompleteRNN":
        """Load a model directory's weights strictly, whichever layout they are in: model.safetensors, or
        model.safetensors.index.json and the shards it names."""
        return self._load_checked(read_weights(Path(directory)))

    def _load_checked(self, tensors: dict) -> "AutocompleteRNN":
        expected = self.state_dict()
        missing = sorted(set(expected) - set(tensors))
        extra = sorted(set(tensors) - set(expected))
        if missing or extra:
            raise ModelFilesError(
                f"weights do not match config.json (unit {self.config.unit}): "
                f"missing {missing[:3]}{'…' if len(missing) > 3 else ''}, "
                f"unexpected {extra[:3]}{'…' if len(extra) > 3 else ''}"
            )
        for name, tensor in tensors.items():
            if tuple(tensor.shape) != tuple(expected[name].shape):
                raise ModelFilesError(
                    f"weights do not match config.json: {name} has shape {tuple(tensor.shape)}, "
                    f"config implies {tuple(expected[name].shape)}"
                )
        self.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True)
        return self.eval()

    @classmethod
    def from_directory(cls, directory) -> "AutocompleteRNN":
        """Rebuild a model from a model directory, with one-line errors for anything wrong in it."""
        directory = Path(directory)
        if not (directory / CONFIG_FILE).is_file():
            raise ModelFilesError(f"{directory} is not a complete model directory: {CONFIG_FILE} is missing")
        weights_layout(directory)  # a directory without weights is refused before config.json is parsed
        return cls(config_from_dict(read_config_json(directory / CONFIG_FILE))).load_weights(directory)

    @classmethod
    def _from_pretrained(cls, *, model_id, revision, cache_dir, force_download, local_files_only, token,
                         map_location="cpu", strict=True, **model_kwargs):
        # Overrides the mixin: strict loading always, and safetensors only (pickle runs code on load).
        model = cls(**model_kwargs)
        if not os.path.isdir(model_id):
            model_id = huggingface_hub.snapshot_download(repo_id=model_id, revision=revision, cache_dir=cache_dir,
                                         force_download=force_download, token=token,
                                         local_files_only=local_files_only,
                                         allow_patterns=[WEIGHTS_FILE, WEIGHTS_INDEX_FILE, SHARD_PATTERN])
        return model.load_weights(model_id).to(map_location)

    # ---- inference --------------------------------------------------------------------------------

    def suggest(self, text: str, k: int = 3) -> Suggestions:
        """The ``k`` most likely words for the word being typed at the end of ``text`` (rnnmem.suggestions)."""
        return suggest(self, text, k=k)


SHARD_PATTERN = "model-*-of-*.safetensors"  # huggingface_hub's shard names, for downloads and uploads


def weights_layout(directory: Path) -> str:
    """"single" (model.safetensors) or "sharded" (model.safetensors.index.json); ModelFilesError when the
    directory has neither, or both (which one would be meant is unknowable)."""
    single, index = (directory / WEIGHTS_FILE).is_file(), (directory / WEIGHTS_INDEX_FILE).is_file()
    if single and index:
        raise ModelFilesError(f"{directory} holds both {WEIGHTS_FILE} and {WEIGHTS_INDEX_FILE}; keep one")
    if not (single or index):
        raise ModelFilesError(f"{directory} is not a complete model directory: {WEIGHTS_FILE} is missing "
                              f"(and there is no {WEIGHTS_INDEX_FILE})")
    return "single" if single else "sharded"


def read_shard_index(path: Path) -> dict[str, str]:
    """The weight map of a sharded model's index (tensor name -> shard file name), checked: a JSON object
    with a "weight_map" of names to plain .safetensors file names in the same directory."""
    try:
        if path.stat().st_size > _MAX_INDEX_BYTES:
            raise ModelFilesError(f"{path.name} is not a weights index (over {_MAX_INDEX_BYTES:,} bytes)")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFilesError(f"{path.name} cannot be read as JSON: {error}") from error
    weight_map = raw.get("weight_map") if isinstance(raw, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ModelFilesError(f"{path.name} has no weight_map")
    for name, shard in weight_map.items():
        # Shards lie beside the index: no folders (so no way out of the directory), and never a pickle.
        if not (isinstance(shard, str) and shard.endswith(".safetensors") and "/" not in shard
                and "\\" not in shard and not shard.startswith(".")):
            raise ModelFilesError(f"{path.name}: tensor {name!r} points at {shard!r}, not a .safetensors "
                                  "file beside the index")
    return weight_map


def read_weights(directory: Path) -> dict:
    """Every tensor of a model directory's weights, from either layout. For sharded weights each tensor
    must be in the shard the index names (a tensor found elsewhere, or missing, is reported by the
    strict check as unexpected, or missing)."""
    if weights_layout(directory) == "single":
        return _read_safetensors(directory / WEIGHTS_FILE)
    weight_map = read_shard_index(directory / WEIGHTS_INDEX_FILE)
    tensors = {}
    for shard in sorted(set(weight_map.values())):
        if not (directory / shard).is_file():
            raise ModelFilesError(f"{directory} is not a complete model directory: shard {shard} is missing "
                                  f"(named in {WEIGHTS_INDEX_FILE})")
        for name, tensor in _read_safetensors(directory / shard).items():
            tensors[name if weight_map.get(name) == shard else f"{name} (in {shard})"] = tensor
    return tensors


def _read_safetensors(path: Path) -> dict:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise UnreadableWeightsError(f"cannot read weights {path.name}: {error}", path) from error


def read_config_json(path: Path):
    """The parsed contents of a config.json (not yet checked: ``config_from_dict`` does that)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFilesError(f"{path} is not valid JSON: {error}") from error


def config_from_dict(raw: dict) -> ModelConfig:
    """A ModelConfig from config.json contents, refusing other model types and wrong field types."""
    if not isinstance(raw, dict):
        raise ModelFilesError("config.json must hold a JSON object")
    known = {f.name for f in fields(ModelConfig)}
    if "unit" not in raw or "words" not in raw:
        raise ModelFilesError("config.json is not an rnnmem model config (no 'unit' and 'words' fields)")
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ModelFilesError(f"config.json has fields rnnmem does not know: {', '.join(unknown[:5])}")
    if not isinstance(raw["words"], list) or not all(isinstance(w, str) for w in raw["words"]):
        raise ModelFilesError("config.json field 'words' must be a list of strings")
    try:
        return ModelConfig(**raw)
    except TypeError as error:
        raise ModelFilesError(f"config.json is invalid: {error}") from error


def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy over characters whose target is a real word, their mean (or with ``reduction="sum"``
    their sum); <eos> (padding) and <unknown> targets are masked out, as in the article's published code.
    logits (..., V), targets (...) long. The one definition of the loss: training, validation and
    evaluation all use it."""
    targets = targets.masked_fill(targets <= UNKNOWN_ID, -100)  # EOS_ID=0, UNKNOWN_ID=1
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
                           ignore_index=-100, reduction=reduction)


assert EOS_ID == 0 and UNKNOWN_ID == 1  # masked_cross_entropy relies on this order
