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
``weights_only=True``. Runs unchanged under ``torchrun`` (DDP, gloo on CPU, nccl on GPUs).
"""

import json
import logging
import math
import os
from pathlib import Path
import shutil
import time

import numpy as np
import torch
import torch.nn.functional as F

from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.model.clip_rt import DELTA_SCALE, ClipRT
from contrastive_vla.model.config import ModelConfig
from contrastive_vla.model.policy import load_model, save_checkpoint
from contrastive_vla.model.preprocess import images_to_tensor

log = logging.getLogger(__name__)
LOSSES = ('ce', 'bce')


class Trainer:
    """Holds the model, data tensors and optimizer of one run; ``fit`` runs the epochs."""

    def __init__(self, model, vocab, train_set, val_set, out_dir, loss='ce', batch_size=64,
                 lr=1e-3, weight_decay=0.01, seed=0, augment_images=True, rank=0,
                 world_size=1, ddp_model=None, device='cpu', new_lr_scale=1.0,
                 instruction_noise=0.0):
        if loss not in LOSSES:
            raise ValueError(f'loss must be one of {LOSSES}, got {loss!r}')
        self.model = model
        self.net = ddp_model or model
        self.vocab = vocab
        self.cfg = model.cfg
        self.train_set, self.val_set = train_set, val_set
        self.out_dir = Path(out_dir)
        self.loss_name = loss
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed + rank)
        self.augment_images = augment_images
        self.instruction_noise = None
        if instruction_noise > 0:
            from contrastive_vla.training import instruction_noise as noise

            self.instruction_noise = noise.for_model(model, instruction_noise, self.rng,
                                                     vocab=vocab)
        self.rank, self.world_size = rank, world_size
        self.device = torch.device(device)
        # modules a warm start added (model.new_parameters) may learn faster: they start at zero
        # beside trained ones and must catch up
        new = set(getattr(model, 'new_parameters', ()))
        groups = [{'params': [p for n, p in model.named_parameters() if (n in new) == added],
                   'scale': new_lr_scale if added else 1.0} for added in (False, True)]
        self.optimizer = torch.optim.AdamW([g for g in groups if g['params']], lr=lr,
                                           weight_decay=weight_decay)
        self.base_lr = lr
        self.epoch = 0
        self.step = 0
        self.best_success = -1.0
        # instruction prompts: tokenised once; samples point into the unique table
        prompts = sorted(set(train_set.instructions) | set(val_set.instructions))
        self.prompt_index = {p: i for i, p in enumerate(prompts)}
        self.prompt_tokens = model.tokenize([self.cfg.prompt.format(instruction=p)
                                             for p in prompts])
        # every text of every primitive, tokenised once; class c owns rows class_rows[c]
        texts, owners = [], []
        for p in vocab:
            texts.extend(p.texts)
            owners.extend([p.index] * len(p.texts))
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
    def _images(self, images):
        if self.augment_images:
            images = _random_shift(images, self.rng, pad=max(2, images.shape[1] // 24))
        x = images_to_tensor(images)
        if self.augment_images:
            b = x.shape[0]
            gain = torch.from_numpy(self.rng.uniform(0.85, 1.15, (b, 1, 1, 1))).float()
            bias = torch.from_numpy(self.rng.uniform(-0.15, 0.15, (b, 1, 1, 1))).float()
            x = x * gain + bias
        return x

    def _sample_class_texts(self, classes):
        rows = [int(self.rng.choice(self.class_rows[c])) for c in classes]
        return self.text_tokens[rows]

    def loss_on(self, idx, dataset, train=True):
        images = self._images(dataset.image_batch(idx)) if train else images_to_tensor(
            dataset.image_batch(idx))
        images = images.to(self.device)
        labels = torch.from_numpy(dataset.labels[idx]).to(self.device)
        instr_tokens, inverse = self._instruction_batch(dataset, idx, train)
        state = self._state(dataset, idx)
        if self.cfg.head == 'regress':
            context, _ = self.net(images, instr_tokens, inverse, None, state)
            pred = self.model.regress(context)
            loss = F.smooth_l1_loss(pred, self.deltas[labels], beta=0.1)
            return loss, None
        if self.loss_name == 'ce' or not train:
            class_tokens = self._sample_class_texts(range(len(self.vocab)))
            context, text = self.net(images, instr_tokens, inverse, class_tokens, state)
            logits = self.model.scores(context, text)
            return F.cross_entropy(logits, labels), logits
        text_tokens = self._sample_class_texts(labels.tolist())
        context, text = self.net(images, instr_tokens, inverse, text_tokens, state)
        logits = self.model.scores(context, text) + self.model.logit_bias
        target = (labels[:, None] == labels[None, :]).float()
        return F.binary_cross_entropy_with_logits(logits, target), None

    def _instruction_batch(self, dataset, idx, train):
        """(unique prompt tokens (U, L), index (B,) into them) for samples ``idx``; in training
        with instruction noise, some instructions are reworded (tokenised per batch)."""
        if train and self.instruction_noise is not None:
            texts = [self.instruction_noise(dataset.instructions[i]) for i in idx]
            unique, inverse = np.unique(texts, return_inverse=True)
            tokens = self.model.tokenize([self.cfg.prompt.format(instruction=t)
                                          for t in unique]).to(self.device)
        else:
            prompt_ids = np.array([self.prompt_index[dataset.instructions[i]] for i in idx])
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
        from contrastive_vla.model.policy import ClipRTPolicy

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
    def fit(self, epochs, eval_every=5, eval_tasks=None, eval_episodes=3, progress=True,
            warmup_steps=100, meta=None):
        from tqdm import tqdm

        n = len(self.train_set)
        steps_per_epoch = max(1, n // (self.batch_size * self.world_size))
        total = steps_per_epoch * epochs
        metrics_path = self.out_dir / 'metrics.jsonl'
        self.model.train()
        for epoch in range(self.epoch, epochs):
            start = time.perf_counter()
            order = np.random.default_rng(epoch + 1000).permutation(n)
            order = order[self.rank::self.world_size]
            losses = []
            bar = tqdm(range(steps_per_epoch), desc=f'epoch {epoch + 1}/{epochs}',
                       disable=not progress or self.rank != 0, dynamic_ncols=True)
            for b in bar:
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                if len(idx) < 2:
                    continue
                # short runs (fine-tuning on a few episodes) warm up for a fifth of them
                warmup = min(warmup_steps, max(1, total // 5))
                lr = self.base_lr * _schedule(self.step, warmup, total)
                for group in self.optimizer.param_groups:
                    group['lr'] = lr * group['scale']
                loss, _ = self.loss_on(idx, self.train_set)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                self.optimizer.step()
                self.step += 1
                losses.append(loss.item())
                bar.set_postfix(loss=f'{np.mean(losses[-20:]):.3f}')
            self.epoch = epoch + 1
            if self.rank != 0:
                continue
            row = {'epoch': self.epoch, 'step': self.step, 'loss': float(np.mean(losses)),
                   'lr': lr, 'epoch_s': round(time.perf_counter() - start, 1),
                   'samples_per_s': round(len(losses) * self.batch_size /
                                          (time.perf_counter() - start), 1)}
            row.update({f'val_{k}': v for k, v in self.offline_accuracy(self.val_set).items()})
            last = self.save('last', meta)
            if eval_tasks and (self.epoch % eval_every == 0 or self.epoch == epochs):
                from contrastive_vla.evaluation.sim_eval import evaluate_in_sim

                summary = evaluate_in_sim(str(last), eval_tasks, eval_episodes, seed=900_000,
                                          progress=False)
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

    def save(self, name, meta=None):
        directory = save_checkpoint(self.out_dir / name, self.model, self.vocab,
                                    meta=dict(meta or {}, epoch=self.epoch, step=self.step))
        torch.save({'optimizer': self.optimizer.state_dict(), 'epoch': self.epoch,
                    'step': self.step, 'best_success': self.best_success},
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
        state = torch.load(state_path, weights_only=True)
        self.optimizer.load_state_dict(state['optimizer'])
        self.epoch, self.step = int(state['epoch']), int(state['step'])
        self.best_success = float(state['best_success'])
        return True


def _schedule(step, warmup, total):
    """Linear warm-up, then cosine decay to 5%."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


def _random_shift(images, rng, pad):
    """Random translation by up to ``pad`` pixels (edge padding), per sample."""
    b, h, w, _ = images.shape
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode='edge')
    out = np.empty_like(images)
    offsets = rng.integers(0, 2 * pad + 1, size=(b, 2))
    for i, (dy, dx) in enumerate(offsets):
        out[i] = padded[i, dy:dy + h, dx:dx + w]
    return out


def plot_metrics(metrics_path, out_png):
    """Loss, validation accuracy and closed-loop success per epoch, as a PNG."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(metrics_path).read_text().splitlines() if line]
    if not rows:
        return
    epochs = [r['epoch'] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].plot(epochs, [r['loss'] for r in rows], label='train loss')
    axes[0].set_xlabel('epoch')
    axes[0].set_ylabel('loss')
    axes[0].legend()
    for key, label in (('val_accuracy', 'val accuracy'), ('val_top3_accuracy', 'val top-3')):
        axes[1].plot(epochs, [r.get(key) if r.get(key) is not None else float('nan')
                              for r in rows], label=label)
    cl = [(r['epoch'], r['closed_loop_success']) for r in rows if 'closed_loop_success' in r]
    if cl:
        axes[1].plot(*zip(*cl), 'o-', label='closed-loop success')
    axes[1].set_ylim(0, 1)
    axes[1].set_xlabel('epoch')
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)


def train(data, config=None, out_dir='runs/clip_rt', epochs=20, batch_size=64,
          lr=1e-3, weight_decay=0.01, loss='ce', val_fraction=0.1, seed=0, eval_every=5,
          eval_tasks=None, eval_episodes=3, init=None, threads=None, progress=True,
          resume=False, augment_images=True, include_failed=False, topics=None,
          new_lr_scale=1.0, instruction_noise=0.0, val_episodes=None):
    """Train a CLIP-RT model on the bags under ``data``; returns the best checkpoint path.

    ``val_episodes``: a file naming the bags to hold out (one per line), instead of a random
    ``val_fraction`` of the episodes."""
    from contrastive_vla.data.dataset import load_demonstrations

    rank, world_size = _init_distributed()
    device = torch.device(f'cuda:{int(os.environ.get("LOCAL_RANK", "0"))}'
                          if torch.cuda.is_available() else 'cpu')
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if init:
        # --config with --init: a warm start into an architecture that adds modules (e.g. the
        # robot state) to the checkpoint's
        model, vocab, _ = load_model(init, extend_to=ModelConfig.load(config) if config else None)
        if model.new_parameters:
            log.info('warm start from %s; new: %s', init, ', '.join(model.new_parameters))
        # keep the state statistics the model was trained with (new ones come from the data)
        model.state_stats_fixed = 'state_mean' not in model.new_parameters
        model.train()
    else:
        cfg = ModelConfig.load(config or 'clip_rt_small')
        vocab = PrimitiveVocabulary.load()
        model = ClipRT(cfg)
    data = [data] if isinstance(data, (str, Path)) else list(data)
    dataset = load_demonstrations(data, vocab, model.cfg.image_size, topics=topics,
                                  include_failed=include_failed, progress=progress and rank == 0)
    for note in dataset.skipped[:20]:
        log.warning('%s', note)
    if val_episodes is not None:
        train_set, val_set = dataset.split_by_names(Path(val_episodes).read_text().split())
    else:
        train_set, val_set = dataset.split_by_episode(val_fraction, seed=seed)
    log.info('%d samples from %d episodes (%d train, %d validation); model %s, %.2fM '
             'parameters', len(dataset), len(dataset.episodes), len(train_set), len(val_set),
             model.cfg.name, sum(p.numel() for p in model.parameters()) / 1e6)
    if rank == 0:
        # which bags validation held out, for eval-bag --episodes-file
        out.mkdir(parents=True, exist_ok=True)
        held_out = sorted({dataset.episodes[i] for i in np.unique(val_set.episode_index)})
        (out / 'val_episodes.txt').write_text(''.join(f'{name}\n' for name in held_out))
    model.to(device)
    ddp_model = None
    if world_size > 1:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == 'cuda' else None)
    trainer = Trainer(model, vocab, train_set, val_set, out, loss=loss, batch_size=batch_size,
                      lr=lr, weight_decay=weight_decay, seed=seed,
                      augment_images=augment_images, rank=rank, world_size=world_size,
                      ddp_model=ddp_model, device=device, new_lr_scale=new_lr_scale,
                      instruction_noise=instruction_noise)
    if resume and trainer.resume():
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(out / 'last' / 'model.safetensors')))
        log.info('resumed from %s at epoch %d', out / 'last', trainer.epoch)
    meta = {'data': [str(d) for d in data], 'samples': len(dataset),
            'episodes': len(dataset.episodes), 'train_samples': len(train_set),
            'val_samples': len(val_set), 'loss': loss, 'config': model.cfg.name,
            'init': str(init) if init else None, 'lr': lr, 'new_lr_scale': new_lr_scale,
            'batch_size': batch_size, 'instruction_noise': instruction_noise,
            'val_episodes': str(val_episodes) if val_episodes is not None else None,
            'seed': seed, 'eval_every': eval_every, 'eval_episodes': eval_episodes,
            'eval_tasks': ','.join(eval_tasks) if eval_tasks else 'none'}
    start = time.perf_counter()
    best = trainer.fit(epochs, eval_every=eval_every, eval_tasks=eval_tasks,
                       eval_episodes=eval_episodes, progress=progress, meta=meta)
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
    torch.distributed.init_process_group(backend)
    return torch.distributed.get_rank(), world_size
