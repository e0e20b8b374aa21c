"""A trained CLIP-RT model as a policy: load a checkpoint, rank the primitives, act.

A checkpoint is a directory::

    config.json         the architecture (ModelConfig)
    model.safetensors   the weights (never pickle: loading cannot execute code)
    vocabulary.yaml     the primitives it was trained with (their order = its classes)
    meta.json           how it was made (data, steps, metrics), free-form

Caches (CLIP-RT's robot code re-encoded every primitive text at every step): the primitive
text embeddings are computed once per vocabulary, the instruction embedding once per distinct
instruction (LRU); a decision then costs one image pass.
"""

from collections import OrderedDict
import json
from pathlib import Path
import time

import numpy as np
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
import torch
import torch.nn.functional as F
import yaml

from contrastive_vla.core.colours import ColourReading, ColourWords
from contrastive_vla.core.resources import models_dir
from contrastive_vla.core.vocabulary import PrimitiveVocabulary, VocabularyError
from contrastive_vla.model.clip_rt import DELTA_SCALE, ClipRT
from contrastive_vla.model.config import ModelConfig
from contrastive_vla.model.preprocess import (
    InputError,
    check_image,
    clean_instruction,
    images_to_tensor,
    primitive_texts,
    resize_square,
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded (missing, truncated, other architecture/vocabulary)."""


def resolve_checkpoint(path):
    """A checkpoint directory from a path, a weights file inside one, or a name in models/."""
    p = Path(path)
    if p.is_file() and p.name == 'model.safetensors':
        p = p.parent
    if not p.exists() and not p.is_absolute():
        candidate = models_dir() / p
        if candidate.exists():
            p = candidate
    if not p.is_dir():
        raise CheckpointError(f'{path}: no such checkpoint directory')
    for name in ('config.json', 'model.safetensors', 'vocabulary.yaml'):
        if not (p / name).is_file():
            raise CheckpointError(f'{p}: missing {name} (a checkpoint has config.json, '
                                  'model.safetensors and vocabulary.yaml)')
    return p


def save_checkpoint(directory, model, vocab, meta=None, half=False):
    """Write a checkpoint directory atomically enough (files written, then meta last)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu()
             for k, v in model.state_dict().items()}
    save_file(state, str(directory / 'model.safetensors'),
              metadata={'format': 'contrastive_vla', 'dtype': 'float16' if half else 'float32'})
    (directory / 'config.json').write_text(model.cfg.to_json())

    (directory / 'vocabulary.yaml').write_text(
        yaml.safe_dump(vocab.to_dict(), sort_keys=False, allow_unicode=True))
    meta = dict(meta or {}, vocabulary_fingerprint=vocab.fingerprint())
    frozen = model.frozen_text_weights()
    if frozen:
        meta['frozen_text_weights'] = {'name': frozen[0], 'sha256': frozen[1]}
    (directory / 'meta.json').write_text(json.dumps(meta, indent=2))
    return directory


# Buffers a warm start may re-initialise (their shape depends on the state the config uses).
_STATE_BUFFERS = ('state_mean', 'state_std')


def check_device(device):
    """Refuse a torch device this machine cannot use, in one line (ValueError), before a
    model is built: 'cuda' on a torch without CUDA, or a name torch does not know."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        raise ValueError(f"device {device!r} is not a torch device; use 'cpu', 'cuda' or "
                         "'cuda:N'") from None
    if kind == 'cuda' and not torch.cuda.is_available():
        if torch.version.cuda is None:
            raise ValueError('CUDA is not available in this torch build; use device cpu')
        raise ValueError('CUDA is not available (no GPU is visible to this torch build); use '
                         'device cpu')


def load_model(path, device='cpu', extend_to=None):
    """(model, vocab, meta) from a checkpoint directory, with clear errors.

    ``extend_to``: a ModelConfig that adds modules to the checkpoint's architecture (e.g. the
    robot state): a warm start. The checkpoint's weights are loaded, the added modules keep
    their initialisation and are listed in ``model.new_parameters``; weights the config
    drops or reshapes are refused.
    """
    check_device(device)
    directory = resolve_checkpoint(path)
    config = extend_to or ModelConfig.load(directory / 'config.json')
    try:
        vocab = PrimitiveVocabulary.load(directory / 'vocabulary.yaml')
    except VocabularyError as exc:
        raise CheckpointError(f'{directory}: bad vocabulary.yaml: {exc}') from None
    try:
        state = load_file(str(directory / 'model.safetensors'))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f'{directory / "model.safetensors"}: cannot read the weights '
                              f'(truncated or corrupt?): {exc}') from None
    meta = {}
    if (directory / 'meta.json').is_file():
        try:
            meta = json.loads((directory / 'meta.json').read_text())
        except json.JSONDecodeError as exc:
            raise CheckpointError(f'{directory / "meta.json"}: not valid JSON: {exc}') from None
    try:
        model = ClipRT(config)
    except Exception as exc:  # a missing pretrained tower, a config open_clip cannot build
        raise CheckpointError(f'{directory}: cannot build model {config.name!r}: {exc}') from None
    frozen = model.frozen_text_weights()
    recorded = meta.get('frozen_text_weights')
    if frozen and recorded and recorded.get('sha256') != frozen[1]:
        raise CheckpointError(
            f'{directory}: trained against other {frozen[0]} weights (SHA-256 '
            f'{recorded.get("sha256", "?")[:12]}...) than the installed ones '
            f'({frozen[1][:12]}...)')
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shape = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    model.new_parameters = []
    if extend_to is not None:
        grown = [k for k in shape if k in _STATE_BUFFERS]
        shape = [k for k in shape if k not in _STATE_BUFFERS]
        for k in grown:
            del state[k]
        model.new_parameters = sorted(missing + grown)
        state = dict(expected, **state)  # the added modules keep their initial values
        missing = []
    if missing or unexpected or shape:
        raise CheckpointError(
            f'{directory}: the weights do not match the architecture {config.name!r} '
            f'(missing {missing[:3]}{"..." if len(missing) > 3 else ""}, unexpected '
            f'{unexpected[:3]}{"..." if len(unexpected) > 3 else ""}, wrong shape {shape[:3]})')
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in state.items()})
    fingerprint = meta.get('vocabulary_fingerprint')
    if fingerprint and fingerprint != vocab.fingerprint():
        raise CheckpointError(f'{directory}: vocabulary.yaml was changed after training '
                              '(its fingerprint differs from the one recorded in meta.json)')
    if len(vocab) < 1:
        raise CheckpointError(f'{directory}: empty vocabulary')
    return model.to(device).eval(), vocab, meta


class ClipRTPolicy:
    """Rank primitives for (image, instruction); ``act`` picks the best (the runner's API)."""

    needs_images = True
    name = 'clip_rt'

    def __init__(self, model, vocab, meta=None, device='cpu', use_cache=True,
                 instruction_cache_size=16):
        self.model = model.to(device)
        self.model.eval()
        self.cfg = model.cfg
        self.vocab = vocab
        self.meta = meta or {}
        self.device = device
        self.use_cache = use_cache
        self._primitive_cache = None
        self._instruction_cache = OrderedDict()
        self._cache_size = instruction_cache_size
        self.last_scores = None
        # the regression head compares its prediction with every primitive's delta
        self._deltas = torch.tensor(np.stack([p.delta_array() for p in vocab]),
                                    dtype=torch.float32)
        # colour names the model never saw are read as the known colour they name
        # (core/colours.py); a checkpoint that does not record its colour words reads as is
        known = self.meta.get('colour_words')
        self.colours = ColourWords(known) if known else None

    @classmethod
    def load(cls, path, device='cpu', vocabulary=None, **kwargs):
        model, vocab, meta = load_model(path, device)
        if vocabulary is not None and vocabulary.fingerprint() != vocab.fingerprint():
            raise CheckpointError(
                f'{path}: trained with another vocabulary ({len(vocab)} primitives, '
                f'fingerprint {vocab.fingerprint()}) than the one given ({len(vocabulary)} '
                f'primitives, fingerprint {vocabulary.fingerprint()})')
        return cls(model, vocab, meta, device=device, **kwargs)

    # ---- embeddings and caches -------------------------------------------------------------
    @torch.no_grad()
    def primitive_embeddings(self):
        """(N, E) unit embeddings: each primitive's phrase and paraphrases, averaged."""
        if self.use_cache and self._primitive_cache is not None:
            return self._primitive_cache
        texts, owners = primitive_texts(self.vocab)
        emb = F.normalize(self.model.encode_text(self.model.tokenize(texts).to(self.device)),
                          dim=-1)
        owners = torch.tensor(owners, device=self.device)
        summed = torch.zeros(len(self.vocab), emb.shape[1], device=self.device)
        summed.index_add_(0, owners, emb)
        result = F.normalize(summed, dim=-1)
        if self.use_cache:
            self._primitive_cache = result
        return result

    def read_instruction(self, instruction):
        """The instruction as the model reads it (a core.colours.ColourReading): checked,
        whitespace collapsed, colour names it never saw replaced by the known ones they name.
        Raises InputError for an instruction it cannot take."""
        return self._read(clean_instruction(instruction, self.cfg.max_instruction_chars))

    def _read(self, text):
        """read_instruction of a text clean_instruction already checked."""
        return self.colours.read(text) if self.colours else ColourReading(text)

    @torch.no_grad()
    def instruction_encoding(self, instruction):
        """The encoded instruction prompt (a clip_rt.Instruction), cached per instruction."""
        text = clean_instruction(instruction, self.cfg.max_instruction_chars)
        if self.use_cache and text in self._instruction_cache:
            self._instruction_cache.move_to_end(text)
            return self._instruction_cache[text]
        prompt = self.cfg.format_prompt(self._read(text).text)
        emb = self.model.encode_instruction(self.model.tokenize([prompt]).to(self.device))
        if self.use_cache:
            self._instruction_cache[text] = emb
            while len(self._instruction_cache) > self._cache_size:
                self._instruction_cache.popitem(last=False)
        return emb

    def warm_up(self, image_shape=(224, 224), instruction='move the arm up', passes=2):
        """Decide ``passes`` times on a blank frame of ``image_shape`` (height, width), so the
        first real decision does not pay the first-call costs of the backend (its kernels,
        buffers and a cold text tower: about 30 ms on 2 CPU cores, 170 ms on a GPU, against
        4 ms and 2 ms after). Returns the milliseconds each pass took."""
        image = np.zeros((*image_shape, 3), np.uint8)
        state = np.zeros(max(self.cfg.state_indices, default=-1) + 1, np.float32) \
            if self.cfg.state_dim else None
        took = []
        for _ in range(passes):
            started = time.perf_counter()
            self.scores(image, instruction, state)
            took.append((time.perf_counter() - started) * 1e3)
        return took

    def clear_caches(self):
        self._primitive_cache = None
        self._instruction_cache.clear()

    # ---- decisions -------------------------------------------------------------------------
    def prepare_image(self, image):
        return images_to_tensor(resize_square(check_image(image), self.cfg.image_size)[None])

    def prepare_state(self, state):
        if not self.cfg.state_dim:
            return None
        indices = self.cfg.state_indices
        if state is None:
            raise InputError(f'model {self.cfg.name!r} needs the joint positions '
                             f'(entries {indices} of the robot state)')
        s = np.asarray(state, dtype=np.float32).reshape(-1)
        if s.shape[0] <= max(indices) or not np.all(np.isfinite(s[indices])):
            raise InputError(f'joint positions: model {self.cfg.name!r} needs finite entries '
                             f'{indices}, got {s.tolist()}')
        return torch.from_numpy(s[indices])[None].to(self.device)

    @torch.no_grad()
    def scores(self, image, instruction, state=None):
        """(N,) scores of every primitive, in vocabulary order (higher is better).

        ``state``: the robot state (joint positions in the arm description's order; the model
        uses the entries ``cfg.state_indices``), needed when it was built with proprioception.
        """
        state = self.prepare_state(state)
        instr = self.instruction_encoding(instruction)
        context = self.model.encode_context(self.prepare_image(image).to(self.device), instr,
                                            state)
        if self.cfg.head == 'regress':
            predicted = self.model.regress(context)[0].cpu() * DELTA_SCALE
            distance = ((self._deltas - predicted) / DELTA_SCALE).norm(dim=1)
            return (-distance).numpy()
        return self.model.scores(context, self.primitive_embeddings())[0].cpu().numpy()

    def rank(self, image, instruction, top_k=None, state=None):
        """[(Primitive, score), ...] best first."""
        s = self.scores(image, instruction, state)
        order = np.argsort(-s, kind='stable')[:top_k]
        return [(self.vocab[int(i)], float(s[i])) for i in order]

    # ---- the episode runner's policy API ---------------------------------------------------
    def reset(self, task=None, seed=None):
        self.last_scores = None

    def act(self, observation):
        s = self.scores(observation.image, observation.instruction,
                        getattr(observation, 'joint_positions', None))
        self.last_scores = s
        return self.vocab[int(np.argmax(s))]


def load_policy(path, device='cpu'):
    """The evaluation harness's hook: a ClipRTPolicy from a checkpoint path or name."""
    return ClipRTPolicy.load(path, device=device)
