"""What one training step sees: a batch's tensors and every random draw that made them.

:class:`BatchMaker` turns sample indices into a :class:`Batch`: the images (augmented with
random shifts, brightness and contrast), the instruction prompts (some reworded by the
instruction noise), the robot state, the labels and one paraphrase of each primitive. Every
random number of a run comes from its one generator, drawn in batch order, so a run is the
same whether its batches are made in the training thread or one step ahead in another
(``Trainer.fit`` overlaps making the next batch with the current step), and a run resumed from
a checkpoint's generator state continues exactly where it stopped.
"""

import json
from typing import NamedTuple

import numpy as np
import torch

from contrastive_vla.model.preprocess import images_to_tensor, primitive_texts
from contrastive_vla.training import instruction_noise as noise


class Batch(NamedTuple):
    """One process's share of a batch, ready for the model."""

    images: torch.Tensor             # (b, 3, S, S) normalised
    labels: torch.Tensor             # (b,) primitive classes
    instructions: torch.Tensor       # (U, L) prompt tokens
    inverse: torch.Tensor            # (b,) row of each sample's prompt in ``instructions``
    texts: torch.Tensor | None       # primitive texts: one per class (ce), per sample (bce)
    state: torch.Tensor | None       # (b, J) the joints the model reads, or None
    share: float                     # this process's share of the whole batch (1.0 in one)
    rng_after: str                   # the generator's state once this batch was drawn (JSON)


class BatchMaker:
    """Makes the batches of one run (``config``: its TrainingConfig) for ``model``."""

    def __init__(self, model, vocab, train_set, val_set, config, world_size=1, device='cpu'):
        self.model, self.cfg, self.config = model, model.cfg, config
        self.vocab = vocab
        self.world_size = world_size
        self.device = torch.device(device)
        # the same stream on every process: each draws for the whole batch, keeps its share
        self.rng = np.random.default_rng(config.seed)
        self.instruction_noise = None
        if config.instruction_noise > 0:
            self.instruction_noise = noise.for_model(
                model, config.instruction_noise, self.rng, vocab=vocab,
                variants=config.instruction_variants, seed=config.seed)
        # instruction prompts: tokenised once; samples point into the unique table
        prompts = sorted(set(train_set.instructions) | set(val_set.instructions))
        self.prompt_index = {p: i for i, p in enumerate(prompts)}
        self.prompt_tokens = model.tokenize([self.cfg.format_prompt(p) for p in prompts]).to(
            self.device)
        # every text of every primitive, tokenised once; class c owns rows class_rows[c]
        texts, owners = primitive_texts(vocab)
        self.text_tokens = model.tokenize(texts).to(self.device)
        owners = np.asarray(owners)
        self.class_rows = [np.flatnonzero(owners == c) for c in range(len(vocab))]

    # ---- the generator's state (a resumed run draws what the uninterrupted one would) ------
    def rng_state(self):
        return json.dumps(self.rng.bit_generator.state)

    def set_rng_state(self, state):
        self.rng.bit_generator.state = json.loads(state)

    # ---- batches ---------------------------------------------------------------------------
    def make(self, idx, dataset, part=None):
        """The training Batch of samples ``idx`` (indices into ``dataset``): this process's
        share ``part`` (positions in ``idx``; default all of it), augmented and reworded."""
        idx = np.asarray(idx)
        part = np.arange(len(idx)) if part is None else np.asarray(part)
        mine = idx[part]
        images = dataset.image_batch(mine)
        images = self._augmented(images, len(idx), part) if self.config.augment_images \
            else images_to_tensor(images)
        labels = torch.from_numpy(dataset.labels[mine]).to(self.device)
        instructions, inverse = self._instructions(dataset, idx, part)
        if self.cfg.head == 'regress':
            texts = None
        elif self.config.loss == 'ce':
            texts = self._class_texts(range(len(self.vocab)))
        else:
            texts = self._class_texts(dataset.labels[idx].tolist())[
                torch.as_tensor(part, device=self.device)]
        return Batch(images.to(self.device), labels, instructions, inverse, texts,
                     self.state(dataset, mine), len(part) * self.world_size / len(idx),
                     self.rng_state())

    def state(self, dataset, idx):
        """The joints the model reads of samples ``idx``, or None for a model without state."""
        if not self.cfg.state_dim:
            return None
        return torch.from_numpy(dataset.states[idx][:, self.cfg.state_indices]).to(self.device)

    def prompts(self, dataset, idx):
        """(unique prompt tokens (U, L), index (len(idx),) into them) of samples ``idx``,
        as recorded."""
        prompt_ids = np.array([self.prompt_index[dataset.instructions[i]] for i in idx])
        unique, inverse = np.unique(prompt_ids, return_inverse=True)
        return self.prompt_tokens[unique], torch.from_numpy(inverse.reshape(-1)).to(self.device)

    def _augmented(self, images, n, part):
        """The images of share ``part`` of a batch of ``n`` samples, augmented with the
        random draws of the whole batch (the same on every process)."""
        pad = max(2, images.shape[1] // 24)
        images = random_shift(images, self.rng.integers(0, 2 * pad + 1, size=(n, 2))[part], pad)
        x = images_to_tensor(images)
        gain = torch.from_numpy(self.rng.uniform(0.85, 1.15, (n, 1, 1, 1))[part]).float()
        bias = torch.from_numpy(self.rng.uniform(-0.15, 0.15, (n, 1, 1, 1))[part]).float()
        return x.mul_(gain).add_(bias)

    def _class_texts(self, classes):
        rows = [int(self.rng.choice(self.class_rows[c])) for c in classes]
        return self.text_tokens[rows]

    def _instructions(self, dataset, idx, part):
        """(unique prompt tokens (U, L), index (len(part),) into them) for the samples
        ``idx[part]``; with instruction noise, some instructions are reworded (tokenised per
        batch; the whole batch is reworded, the same on every process)."""
        if self.instruction_noise is not None:
            texts = [self.instruction_noise(dataset.instructions[i]) for i in idx]
            unique, inverse = np.unique([texts[i] for i in part], return_inverse=True)
            tokens = self.model.tokenize([self.cfg.format_prompt(t)
                                          for t in unique]).to(self.device)
            inverse = torch.from_numpy(inverse.reshape(-1)).to(self.device)
        else:
            tokens, inverse = self.prompts(dataset, idx[part])
        if self.config.compile and len(tokens) < len(part):
            # static shapes for the compiled step: the extra rows are encoded and never used
            tokens = torch.cat([tokens, tokens[:1].expand(len(part) - len(tokens), -1)])
        return tokens, inverse


def random_shift(images, offsets, pad):
    """Translation of each image by its (dy, dx) in ``offsets`` minus ``pad`` pixels (edge
    padding)."""
    _, h, w, _ = images.shape
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='edge')
    out = np.empty_like(images)
    for i, (dy, dx) in enumerate(offsets):
        out[i] = padded[i, dy:dy + h, dx:dx + w]
    return out
