"""Contrastive imitation learning from demonstration bags (``contrastive-vla train``).

Per batch: images (augmented) and instruction prompts give the context; primitive texts (one
paraphrase sampled per class, so the text tower learns that wordings of one primitive mean the
same) give the candidates. Losses:

- ``ce`` (default): softmax cross-entropy of the context against every primitive of the
  vocabulary;
- ``bce``: CLIP-RT's multi-label binary cross-entropy over the batch: logits between every
  sample's context and every sample's primitive text, positive where the two samples carry the
  same primitive class (duplicates are positives, not false negatives);
- the ``regress`` head (CLIP-RT-Action baseline) is trained with a smooth-L1 loss on the
  normalised 8-D delta.

Validation: offline primitive accuracy on held-out episodes every epoch, and closed-loop
success in the simulator every ``eval_every`` epochs (offline accuracy is a poor proxy); the
checkpoint with the best closed-loop success is kept as ``best/``. Checkpoints are
safetensors; the optimizer state is saved with ``torch.save`` and loaded with
``weights_only=True``.

Runs unchanged under ``torchrun --nproc_per_node N`` (gloo on CPU, nccl on GPUs): every
process draws the same epoch order and the same random numbers (augmentation, instruction
noise, primitive texts) for the whole batch of ``batch_size`` samples, computes the loss of
its share of it (weighted so the shares add up to the batch's mean) and the gradients are
averaged over the processes with one all-reduce per step; so N processes train the weights
one process would with the same batch (up to float rounding; the ``bce`` loss excepted, whose
in-batch negatives are each process's share). Rank 0 alone validates, evaluates, logs and
writes checkpoints.
"""

import datetime
import json
import logging
import math
import os
from pathlib import Path
import shutil
import time

import numpy as np
from safetensors.torch import load_file
import torch
import torch.nn.functional as F
from tqdm import tqdm

from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.data.dataset import load_demonstrations
from contrastive_vla.evaluation.sim_eval import evaluate_in_sim
from contrastive_vla.model.clip_rt import DELTA_SCALE, ClipRT
from contrastive_vla.model.config import ModelConfig
from contrastive_vla.model.policy import ClipRTPolicy, load_model, save_checkpoint
from contrastive_vla.model.preprocess import images_to_tensor, primitive_texts
from contrastive_vla.training import instruction_noise as noise
from contrastive_vla.training.config import TrainingConfig

log = logging.getLogger(__name__)


class Trainer:
    """Holds the model, data tensors and optimizer of one run; ``fit`` runs the epochs.

    ``config``: the run's TrainingConfig (batch size, learning rate, loss, seed, ...; its
    ``data`` is not read here: the datasets come loaded)."""

    def __init__(self, model, vocab, train_set, val_set, config: TrainingConfig, rank=0,
                 world_size=1, device='cpu'):
        self.config = config
        self.model = model
        self.net = model
        self.vocab = vocab
        self.cfg = model.cfg
        self.train_set, self.val_set = train_set, val_set
        self.out_dir = config.out_dir
        self.loss_name = config.loss
        self.batch_size = config.batch_size
        # the same stream on every process: each draws for the whole batch, keeps its share
        self.rng = np.random.default_rng(config.seed)
        self.augment_images = config.augment_images
        self.instruction_noise = None
        if config.instruction_noise > 0:
            self.instruction_noise = noise.for_model(model, config.instruction_noise,
                                                     self.rng, vocab=vocab)
        self.rank, self.world_size = rank, world_size
        self.device = torch.device(device)
        # modules a warm start added (model.new_parameters) may learn faster: they start at zero
        # beside trained ones and must catch up
        new = set(getattr(model, 'new_parameters', ()))
        groups = [{'params': [p for n, p in model.named_parameters() if (n in new) == added],
                   'scale': config.new_lr_scale if added else 1.0}
                  for added in (False, True)]
        self.optimizer = torch.optim.AdamW([g for g in groups if g['params']], lr=config.lr,
                                           weight_decay=config.weight_decay)
        self.base_lr = config.lr
        self.epoch = 0
        self.step = 0
        self.best_success = -1.0
        self.train_seconds = 0.0  # the epochs' wall-clock, validation and evaluation excluded
        # instruction prompts: tokenised once; samples point into the unique table
        prompts = sorted(set(train_set.instructions) | set(val_set.instructions))
        self.prompt_index = {p: i for i, p in enumerate(prompts)}
        self.prompt_tokens = model.tokenize([self.cfg.format_prompt(p) for p in prompts])
        # every text of every primitive, tokenised once; class c owns rows class_rows[c]
        texts, owners = primitive_texts(vocab)
        self.text_tokens = model.tokenize(texts)
        self.text_owner = np.asarray(owners)
        self.class_rows = [np.flatnonzero(self.text_owner == c) for c in range(len(vocab))]
        self.state_indices = self.cfg.state_indices
        if self.state_indices:
            if train_set.states is None or train_set.states.shape[1] <= max(self.state_indices):
                raise ValueError(f'model {self.cfg.name!r} needs joint positions '
                                 f'{self.state_indices} per sample; the data has no '
                                 'joint_states')
            if not getattr(model, 'state_stats_fixed', False):
                states = torch.from_numpy(train_set.states[:, self.state_indices])
                model.state_mean.copy_(states.mean(0))
                model.state_std.copy_(states.std(0).clamp(min=1e-3))
        self.deltas = (torch.tensor(np.stack([p.delta_array() for p in vocab]),
                                    dtype=torch.float32) / DELTA_SCALE).to(self.device)
        self.prompt_tokens = self.prompt_tokens.to(self.device)
        self.text_tokens = self.text_tokens.to(self.device)

    # ---- batches ---------------------------------------------------------------------------
    def _images(self, images, n=None, part=slice(None)):
        """The images of share ``part`` of a batch of ``n`` samples, augmented with the
        random draws of the whole batch (the same on every process)."""
        n = len(images) if n is None else n
        if self.augment_images:
            pad = max(2, images.shape[1] // 24)
            images = _random_shift(images, self.rng.integers(0, 2 * pad + 1, size=(n, 2))[part],
                                   pad)
        x = images_to_tensor(images)
        if self.augment_images:
            gain = torch.from_numpy(self.rng.uniform(0.85, 1.15, (n, 1, 1, 1))[part]).float()
            bias = torch.from_numpy(self.rng.uniform(-0.15, 0.15, (n, 1, 1, 1))[part]).float()
            x = x * gain + bias
        return x

    def _sample_class_texts(self, classes):
        rows = [int(self.rng.choice(self.class_rows[c])) for c in classes]
        return self.text_tokens[rows]

    def loss_on(self, idx, dataset, train=True, part=None):
        """(loss, logits or None) of the batch ``idx`` (sample indices into ``dataset``), or
        of its share ``part`` (positions in ``idx``) under torchrun: then the loss is weighted
        so that the processes' gradients, averaged, are the whole batch's."""
        part = np.arange(len(idx)) if part is None else np.asarray(part)
        mine = np.asarray(idx)[part]
        images = self._images(dataset.image_batch(mine), len(idx), part) if train else \
            images_to_tensor(dataset.image_batch(mine))
        images = images.to(self.device)
        labels = torch.from_numpy(dataset.labels[mine]).to(self.device)
        instr_tokens, inverse = self._instruction_batch(dataset, idx, train, part)
        state = self._state(dataset, mine)
        share = len(part) * self.world_size / len(idx)  # 1.0 in one process
        if self.cfg.head == 'regress':
            context, _ = self.net(images, instr_tokens, inverse, None, state)
            pred = self.model.regress(context)
            loss = F.smooth_l1_loss(pred, self.deltas[labels], beta=0.1)
            return loss * share, None
        if self.loss_name == 'ce' or not train:
            class_tokens = self._sample_class_texts(range(len(self.vocab)))
            context, text = self.net(images, instr_tokens, inverse, class_tokens, state)
            logits = self.model.scores(context, text)
            return F.cross_entropy(logits, labels) * share, logits
        text_tokens = self._sample_class_texts(dataset.labels[idx].tolist())[
            torch.as_tensor(part, device=self.text_tokens.device)]
        context, text = self.net(images, instr_tokens, inverse, text_tokens, state)
        logits = self.model.scores(context, text) + self.model.logit_bias
        target = (labels[:, None] == labels[None, :]).float()
        return F.binary_cross_entropy_with_logits(logits, target), None

    def _instruction_batch(self, dataset, idx, train, part):
        """(unique prompt tokens (U, L), index (B,) into them) for the samples ``idx[part]``;
        in training with instruction noise, some instructions are reworded (tokenised per
        batch; the whole batch is reworded, the same on every process)."""
        if train and self.instruction_noise is not None:
            texts = [self.instruction_noise(dataset.instructions[i]) for i in idx]
            unique, inverse = np.unique([texts[i] for i in part], return_inverse=True)
            tokens = self.model.tokenize([self.cfg.format_prompt(t)
                                          for t in unique]).to(self.device)
        else:
            prompt_ids = np.array([self.prompt_index[dataset.instructions[i]]
                                   for i in np.asarray(idx)[part]])
            unique, inverse = np.unique(prompt_ids, return_inverse=True)
            tokens = self.prompt_tokens[unique]
        return tokens, torch.from_numpy(inverse.reshape(-1)).to(self.device)

    def _state(self, dataset, idx):
        if not self.cfg.state_dim:
            return None
        return torch.from_numpy(dataset.states[idx][:, self.state_indices]).to(self.device)

    # ---- evaluation ------------------------------------------------------------------------
    @torch.no_grad()
    def offline_accuracy(self, dataset, batch=256):
        """Top-1 / top-3 accuracy with the inference-time primitive embeddings."""
        if len(dataset) == 0:
            return {'accuracy': None, 'top3_accuracy': None, 'samples': 0}  # nothing held out
        self.model.eval()
        policy = ClipRTPolicy(self.model, self.vocab, use_cache=False, device=self.device)
        prim = policy.primitive_embeddings() if self.cfg.head == 'rank' else None
        correct = top3 = 0
        for start in range(0, len(dataset), batch):
            idx = np.arange(start, min(start + batch, len(dataset)))
            prompt_ids = np.array([self.prompt_index[dataset.instructions[i]] for i in idx])
            unique, inverse = np.unique(prompt_ids, return_inverse=True)
            instr = self.model.encode_instruction(self.prompt_tokens[unique]).select(
                torch.from_numpy(inverse).to(self.device))
            context = self.model.encode_context(
                images_to_tensor(dataset.image_batch(idx)).to(self.device), instr,
                self._state(dataset, idx))
            if prim is not None:
                scores = self.model.scores(context, prim)
            else:
                pred = self.model.regress(context)
                scores = -torch.cdist(pred, self.deltas)
            labels = torch.from_numpy(dataset.labels[idx]).to(self.device)
            ranked = scores.argsort(dim=1, descending=True)
            correct += int((ranked[:, 0] == labels).sum())
            top3 += int((ranked[:, :3] == labels[:, None]).any(dim=1).sum())
        self.model.train()
        return {'accuracy': correct / len(dataset), 'top3_accuracy': top3 / len(dataset),
                'samples': len(dataset)}

    # ---- the loop --------------------------------------------------------------------------
    def epoch_order(self, epoch):
        """The training samples' order in ``epoch``: a shuffle seeded by the config's seed and
        the epoch, the same on every rank (each takes its slice) and after a resume."""
        return np.random.default_rng((self.config.seed, epoch)).permutation(len(self.train_set))

    def fit(self, meta=None):
        config = self.config
        epochs, eval_every = config.epochs, config.eval_every
        eval_tasks = config.eval_task_ids()
        n = len(self.train_set)
        # batch_size is the whole batch, split over the processes
        steps_per_epoch = max(1, n // self.batch_size)
        total = steps_per_epoch * epochs
        metrics_path = self.out_dir / 'metrics.jsonl'
        self.model.train()
        lr = self.base_lr * _schedule(self.step, min(config.warmup_steps, max(1, total // 5)),
                                      total)
        for epoch in range(self.epoch, epochs):
            start = time.perf_counter()
            order = self.epoch_order(epoch)
            losses = []
            bar = tqdm(range(steps_per_epoch), desc=f'epoch {epoch + 1}/{epochs}',
                       disable=not config.progress or self.rank != 0, dynamic_ncols=True)
            for b in bar:
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                if len(idx) < 2:
                    continue
                # short runs (fine-tuning on a few episodes) warm up for a fifth of them
                warmup = min(config.warmup_steps, max(1, total // 5))
                lr = self.base_lr * _schedule(self.step, warmup, total)
                for group in self.optimizer.param_groups:
                    group['lr'] = lr * group['scale']
                part = np.array_split(np.arange(len(idx)), self.world_size)[self.rank]
                loss, _ = self.loss_on(idx, self.train_set, part=part)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self._average_gradients()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                self.optimizer.step()
                self.step += 1
                losses.append(loss.item())
                bar.set_postfix(loss=f'{np.mean(losses[-20:]):.3f}')
            self.epoch = epoch + 1
            epoch_s = time.perf_counter() - start
            self.train_seconds += epoch_s
            epoch_loss = self._mean_over_processes(losses)
            if self.rank != 0:
                continue
            row = {'epoch': self.epoch, 'step': self.step,
                   'loss': epoch_loss,
                   'lr': lr, 'epoch_s': round(epoch_s, 1),
                   'train_minutes': round(self.train_seconds / 60, 2),
                   'samples_per_s': round(len(losses) * self.batch_size / epoch_s, 1)}
            row.update({f'val_{k}': v for k, v in self.offline_accuracy(self.val_set).items()})
            last = self.save('last', meta)
            if eval_tasks and (self.epoch % eval_every == 0 or self.epoch == epochs):
                summary = evaluate_in_sim(str(last), eval_tasks, config.eval_episodes,
                                          seed=900_000, progress=False)
                row['closed_loop_success'] = summary['success_rate']
                row['closed_loop_per_task'] = {t: r['success_rate']
                                               for t, r in summary['per_task'].items()}
                # ties go to the later epoch: same success on a short check, more training
                if summary['success_rate'] >= self.best_success:
                    self.best_success = summary['success_rate']
                    self._copy(last, 'best')
            log.info('epoch %d: %s', self.epoch, {k: v for k, v in row.items()
                                                   if k != 'closed_loop_per_task'})
            with metrics_path.open('a', encoding='utf-8') as f:
                f.write(json.dumps(row) + '\n')
        if self.rank == 0:
            if not (self.out_dir / 'best').exists():
                self._copy(self.out_dir / 'last', 'best')
            plot_metrics(metrics_path, self.out_dir / 'training.png')
        return self.out_dir / 'best'

    def _average_gradients(self):
        """Under torchrun: every process's gradients -> their mean (one all-reduce)."""
        if self.world_size == 1:
            return
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads])
        torch.distributed.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def _mean_over_processes(self, losses):
        """The epoch's training loss: the mean of the batches' losses (under torchrun, a
        batch's loss is the mean of the processes' weighted shares), None without steps."""
        total = torch.tensor([float(np.sum(losses)), len(losses)], dtype=torch.float64,
                             device=self.device)
        if self.world_size > 1:
            torch.distributed.all_reduce(total)
            total /= self.world_size
        return float(total[0] / total[1]) if total[1] else None

    def save(self, name, meta=None):
        directory = save_checkpoint(self.out_dir / name, self.model, self.vocab,
                                    meta=dict(meta or {}, epoch=self.epoch, step=self.step))
        torch.save({'optimizer': self.optimizer.state_dict(), 'epoch': self.epoch,
                    'step': self.step, 'best_success': self.best_success,
                    'train_seconds': self.train_seconds},
                   directory / 'training_state.pt')
        return directory

    def _copy(self, source, name):
        target = self.out_dir / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)

    def resume(self):
        state_path = self.out_dir / 'last' / 'training_state.pt'
        if not state_path.is_file():
            return False
        state = load_training_state(state_path)
        self.optimizer.load_state_dict(state['optimizer'])
        self.epoch, self.step = int(state['epoch']), int(state['step'])
        self.best_success = float(state['best_success'])
        self.train_seconds = float(state.get('train_seconds', 0.0))  # older states: none
        return True


def load_training_state(path):
    """The optimizer state and counters ``Trainer.save`` wrote to ``path``, loaded without
    unpickling code; anything else is refused with a ValueError (one line)."""
    try:
        state = torch.load(path, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch's message would suggest unpickling
        raise ValueError(f'{path}: not a plain training state (optimizer tensors and '
                         f'counters) as contrastive-vla train writes ({type(exc).__name__}); '
                         'it is not loaded, since unpickling it could run code. Start '
                         'without --resume, or in a new --out directory.') from None
    if not isinstance(state, dict) or not {'optimizer', 'epoch', 'step',
                                           'best_success'} <= set(state):
        raise ValueError(f'{path}: not a training state of contrastive-vla train (it needs '
                         'optimizer, epoch, step and best_success).')
    return state


def _schedule(step, warmup, total):
    """Linear warm-up, then cosine decay to 5%."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


def _random_shift(images, offsets, pad):
    """Translation of each image by its (dy, dx) in ``offsets`` minus ``pad`` pixels (edge
    padding)."""
    _, h, w, _ = images.shape
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='edge')
    out = np.empty_like(images)
    for i, (dy, dx) in enumerate(offsets):
        out[i] = padded[i, dy:dy + h, dx:dx + w]
    return out


def plot_metrics(metrics_path, out_png):
    """Loss, validation accuracy and closed-loop success per epoch, as a PNG."""
    # deferred: matplotlib loads only when a plot is written
    import matplotlib

    matplotlib.use('Agg')
    # deferred: matplotlib loads only when a plot is written
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(metrics_path).read_text().splitlines() if line]
    if not rows:
        return
    # against the training wall-clock when every row has it (success vs minutes), else epochs
    by_minutes = all('train_minutes' in r for r in rows)
    x_key, x_label = ('train_minutes', 'training minutes') if by_minutes else ('epoch', 'epoch')
    xs = [r[x_key] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].plot(xs, [r['loss'] for r in rows], label='train loss')
    axes[0].set_xlabel(x_label)
    axes[0].set_ylabel('loss')
    axes[0].legend()
    for key, label in (('val_accuracy', 'val accuracy'), ('val_top3_accuracy', 'val top-3')):
        axes[1].plot(xs, [r.get(key) if r.get(key) is not None else float('nan')
                          for r in rows], label=label)
    cl = [(r[x_key], r['closed_loop_success']) for r in rows if 'closed_loop_success' in r]
    if cl:
        axes[1].plot(*zip(*cl), 'o-', label='closed-loop success')
    axes[1].set_ylim(0, 1)
    axes[1].set_xlabel(x_label)
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)


def train(config: TrainingConfig, topics=None):
    """Train a CLIP-RT model as ``config`` (a TrainingConfig) says; returns the best
    checkpoint's path. ``topics``: the bags' topic names, when not the packaged ones."""
    if not config.data:
        raise ValueError('No training data: give --data one or more bag directories.')
    rank, world_size = _init_distributed()
    if rank != 0:  # one process speaks (warnings and errors still come from every one)
        logging.getLogger('contrastive_vla').setLevel(logging.WARNING)
    if config.batch_size < world_size:
        raise ValueError(f'--batch-size {config.batch_size} is the whole batch, split over '
                         f'the {world_size} processes: give at least {world_size}.')
    device = torch.device(f'cuda:{int(os.environ.get("LOCAL_RANK", "0"))}'
                          if torch.cuda.is_available() else 'cpu')
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    if config.init:
        # --config with --init: a warm start into an architecture that adds modules (e.g. the
        # robot state) to the checkpoint's
        model, vocab, _ = load_model(config.init, extend_to=ModelConfig.load(config.config)
                                     if config.config else None)
        if model.new_parameters:
            log.info('warm start from %s; new: %s', config.init,
                     ', '.join(model.new_parameters))
        # keep the state statistics the model was trained with (new ones come from the data)
        model.state_stats_fixed = 'state_mean' not in model.new_parameters
        model.train()
    else:
        cfg = ModelConfig.load(config.config or 'clip_rt_small')
        vocab = PrimitiveVocabulary.load()
        model = ClipRT(cfg)
    progress = config.progress and rank == 0
    if rank != 0:
        torch.distributed.barrier()  # rank 0 decodes the bags and writes the caches first
    dataset = load_demonstrations(config.data, vocab, model.cfg.image_size, topics=topics,
                                  include_failed=config.include_failed, progress=progress,
                                  in_memory=config.images_in_memory)
    if world_size > 1 and rank == 0:
        torch.distributed.barrier()
    for note in dataset.skipped[:20]:
        log.warning('%s', note)
    if config.val_episodes is not None:
        names = Path(config.val_episodes).read_text().split()
        train_set, val_set = dataset.split_by_names(names)
    else:
        train_set, val_set = dataset.split_by_episode(config.val_fraction, seed=config.seed)
    if len(train_set) < 2 * world_size:
        raise ValueError(f'The training data has {len(train_set)} usable sample(s) '
                         f'({len(dataset)} in all, {len(val_set)} held out for validation); '
                         f'training needs at least {2 * world_size} (a batch of 2 per '
                         'process): give more bags, or lower --val-fraction.')
    log.info('%d samples from %d episodes (%d train, %d validation); model %s, %.2fM '
             'parameters', len(dataset), len(dataset.episodes), len(train_set), len(val_set),
             model.cfg.name, sum(p.numel() for p in model.parameters()) / 1e6)
    if rank == 0:
        # which bags validation held out, for eval-bag --episodes-file
        held_out = sorted({dataset.episodes[i] for i in np.unique(val_set.episode_index)})
        (out / 'val_episodes.txt').write_text(''.join(f'{name}\n' for name in held_out))
    model.to(device)
    trainer = Trainer(model, vocab, train_set, val_set, config, rank=rank,
                      world_size=world_size, device=device)
    if config.resume and trainer.resume():
        model.load_state_dict(load_file(str(out / 'last' / 'model.safetensors')))
        log.info('resumed from %s at epoch %d', out / 'last', trainer.epoch)
    if world_size > 1:  # the same start everywhere (the seed makes it so; this makes sure)
        for tensor in model.state_dict().values():
            torch.distributed.broadcast(tensor, 0)
    # the whole config, then what came of it; 'model' is the architecture's name (the
    # config given may be a path, or none with --init)
    meta = dict(config.to_dict(), model=model.cfg.name, samples=len(dataset),
                episodes=len(dataset.episodes), train_samples=len(train_set),
                val_samples=len(val_set))
    start = time.perf_counter()
    best = trainer.fit(meta=meta)
    if rank == 0:
        summary = dict(meta, train_seconds=round(time.perf_counter() - start, 1),
                       best_closed_loop_success=trainer.best_success,
                       final_val=trainer.offline_accuracy(val_set))
        (out / 'summary.json').write_text(json.dumps(summary, indent=2))
    if world_size > 1:
        torch.distributed.destroy_process_group()
    return best


def _init_distributed():
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    if world_size <= 1:
        return 0, 1
    backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    # the other ranks wait in the next step's all-reduce while rank 0 runs the closed-loop check
    torch.distributed.init_process_group(backend, timeout=datetime.timedelta(hours=3))
    return torch.distributed.get_rank(), world_size
