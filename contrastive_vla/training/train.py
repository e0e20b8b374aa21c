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

from concurrent.futures import ThreadPoolExecutor
import datetime
import json
import logging
import math
import os
from pathlib import Path
import shutil
import signal
import threading
import time

import numpy as np
from safetensors.torch import load_file
import torch
import torch.nn.functional as F
from tqdm import tqdm

from contrastive_vla.core.colours import colour_words_in
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.data.dataset import load_demonstrations
from contrastive_vla.evaluation.sim_eval import evaluate_in_sim
from contrastive_vla.model.clip_rt import DELTA_SCALE, ClipRT
from contrastive_vla.model.config import ModelConfig
from contrastive_vla.model.policy import ClipRTPolicy, load_model, save_checkpoint
from contrastive_vla.model.preprocess import images_to_tensor
from contrastive_vla.training.batches import BatchMaker
from contrastive_vla.training.config import TrainingConfig
from contrastive_vla.training.curriculum import curriculum_order, sample_tasks
from contrastive_vla.training.curve import plot_metrics

log = logging.getLogger(__name__)


class Trainer:
    """Holds the model, data tensors and optimizer of one run; ``fit`` runs the epochs.

    ``config``: the run's TrainingConfig (batch size, learning rate, loss, seed, ...; its
    ``data`` is not read here: the datasets come loaded)."""

    def __init__(self, model, vocab, train_set, val_set, config: TrainingConfig, rank=0,
                 world_size=1, device='cpu'):
        self.config = config
        self.model = model
        # torch.compile traces the step once; every batch then has the same shapes (the
        # instruction prompts are padded to one row per sample), so it never recompiles
        self.net = torch.compile(model) if config.compile else model
        self.vocab = vocab
        self.cfg = model.cfg
        self.train_set, self.val_set = train_set, val_set
        self.out_dir = config.out_dir
        self.batch_size = config.batch_size
        self.batches = BatchMaker(model, vocab, train_set, val_set, config,
                                  world_size=world_size, device=device)
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
        self.epoch = 0  # epochs completed
        self.step = 0
        self.best_success = -1.0
        self.train_seconds = 0.0  # the epochs' wall-clock, validation and evaluation excluded
        self.earlier_wall_seconds = 0.0  # see wall_seconds()
        self.started = time.perf_counter()
        # within an epoch (a checkpoint every config.checkpoint_minutes): the next batch, the
        # epoch's seconds and losses so far, the generator's state
        self.progress = None
        if self.cfg.state_indices:
            if train_set.states is None or \
                    train_set.states.shape[1] <= max(self.cfg.state_indices):
                raise ValueError(f'model {self.cfg.name!r} needs joint positions '
                                 f'{self.cfg.state_indices} per sample; the data has no '
                                 'joint_states')
            if not getattr(model, 'state_stats_fixed', False):
                states = torch.from_numpy(train_set.states[:, self.cfg.state_indices])
                model.state_mean.copy_(states.mean(0))
                model.state_std.copy_(states.std(0).clamp(min=1e-3))
        self.deltas = (torch.tensor(np.stack([p.delta_array() for p in vocab]),
                                    dtype=torch.float32) / DELTA_SCALE).to(self.device)

    def loss(self, batch):
        """(loss, logits over the vocabulary or None) of a Batch: under torchrun, of this
        process's share, weighted so that the processes' gradients, averaged, are the whole
        batch's; the logits with the ``ce`` loss."""
        with self._autocast():  # batch.texts is None for the regression head
            context, text = self.net(batch.images, batch.instructions, batch.inverse,
                                     batch.texts, batch.state)
        # the head in float32: logits up to 100 keep their resolution
        context = context.float()
        if self.cfg.head == 'regress':
            pred = self.model.regress(context)
            return F.smooth_l1_loss(pred, self.deltas[batch.labels], beta=0.1) * batch.share, \
                None
        logits = self.model.scores(context, text.float())
        if self.config.loss == 'ce':
            return F.cross_entropy(logits, batch.labels) * batch.share, logits
        logits = logits + self.model.logit_bias
        target = (batch.labels[:, None] == batch.labels[None, :]).float()
        return F.binary_cross_entropy_with_logits(logits, target), None

    def train_step(self, batch, lr):
        """One optimizer step on ``batch`` at learning rate ``lr``; its loss."""
        for group in self.optimizer.param_groups:
            group['lr'] = lr * group['scale']
        loss, _ = self.loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._average_gradients()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.step += 1
        return loss.item()

    def _autocast(self):
        """The training forward's arithmetic (``config.precision``): bfloat16 autocast, or
        nothing (float32)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              enabled=self.config.precision == 'bfloat16')

    # ---- evaluation ------------------------------------------------------------------------
    @torch.no_grad()
    def offline_accuracy(self, dataset, batch=256):
        """Top-1 / top-3 accuracy with the inference-time primitive embeddings; ``per_task``
        top-1 too when the bags are named by task (``collect``'s bags)."""
        if len(dataset) == 0:
            return {'accuracy': None, 'top3_accuracy': None, 'samples': 0}  # nothing held out
        self.model.eval()
        policy = ClipRTPolicy(self.model, self.vocab, use_cache=False, device=self.device)
        prim = policy.primitive_embeddings() if self.cfg.head == 'rank' else None
        top3 = 0
        hits = np.zeros(len(dataset), dtype=bool)
        for start in range(0, len(dataset), batch):
            idx = np.arange(start, min(start + batch, len(dataset)))
            tokens, inverse = self.batches.prompts(dataset, idx)
            instr = self.model.encode_instruction(tokens).select(inverse)
            context = self.model.encode_context(
                images_to_tensor(dataset.image_batch(idx)).to(self.device), instr,
                self.batches.state(dataset, idx))
            if prim is not None:
                scores = self.model.scores(context, prim)
            else:
                pred = self.model.regress(context)
                scores = -torch.cdist(pred, self.deltas)
            labels = torch.from_numpy(dataset.labels[idx]).to(self.device)
            ranked = scores.argsort(dim=1, descending=True)
            hits[idx] = (ranked[:, 0] == labels).cpu().numpy()
            top3 += int((ranked[:, :3] == labels[:, None]).any(dim=1).sum())
        self.model.train()
        correct = int(hits.sum())
        result = {'accuracy': correct / len(dataset), 'top3_accuracy': top3 / len(dataset),
                  'samples': len(dataset)}
        tasks = sample_tasks(dataset)
        if any(tasks):
            result['per_task'] = {task: round(float(hits[tasks == task].mean()), 4)
                                  for task in sorted(set(tasks)) if task}
        return result

    # ---- the loop --------------------------------------------------------------------------
    def epoch_order(self, epoch):
        """The training samples' order in ``epoch``: a shuffle seeded by the config's seed and
        the epoch, the same on every rank (each takes its slice) and after a resume."""
        return np.random.default_rng((self.config.seed, epoch)).permutation(len(self.train_set))

    def fit(self, meta=None):
        """Train what is left (the curriculum phase, if any, then the epochs; all, or what
        follows a resume); returns the best checkpoint's directory. Ctrl-C or SIGTERM saves
        RUN_DIR/last at the batch reached and raises KeyboardInterrupt (StopRequest)."""
        config = self.config
        eval_tasks = config.eval_task_ids()
        # batch_size is the whole batch, split over the processes
        steps_per_epoch = max(1, len(self.train_set) // self.batch_size)
        tasks = config.curriculum_task_ids()
        curriculum = config.curriculum_steps if tasks else 0
        total = curriculum + steps_per_epoch * config.epochs  # one schedule over both
        metrics_path = self.out_dir / 'metrics.jsonl'
        self.model.train()
        with StopRequest() as stop:
            if self.step < curriculum:  # the phase comes first: its steps are the first ones
                order = curriculum_order(self.train_set, tasks, curriculum, self.batch_size,
                                         config.seed)
                self._phase(order, curriculum, 'the curriculum',
                            f'curriculum ({",".join(tasks)})', total, meta, stop, eval_tasks,
                            metrics_path, phase='curriculum')
            for epoch in range(self.epoch, config.epochs):
                self._phase(self.epoch_order(epoch), steps_per_epoch, f'epoch {epoch + 1}',
                            f'epoch {epoch + 1}/{config.epochs}', total, meta, stop,
                            eval_tasks, metrics_path)
        if self.rank == 0:
            if not (self.out_dir / 'best').exists():
                self._copy(self.out_dir / 'last', 'best')
            plot_metrics(metrics_path, self.out_dir / 'training.png')
        return self.out_dir / 'best'

    def _phase(self, order, steps, name, desc, total, meta, stop, eval_tasks, metrics_path,
               phase=None):
        """An epoch, or the ``phase`` named (the curriculum, which counts as no epoch), from
        where it stands, then its end: validation, checkpoints, the metrics row."""
        losses, lr, seconds = self._train_steps(order, steps, name, desc, total, meta, stop)
        if phase is None:
            self.epoch += 1
        self.train_seconds += seconds
        self._end_epoch(losses, lr, seconds, meta, eval_tasks, metrics_path, phase)

    def _train_steps(self, order, steps, name, desc, total, meta, stop):
        """The ``steps`` batches of a phase whose samples come in ``order``, from where it
        stands; (losses, last lr, seconds)."""
        config = self.config
        first, seconds, losses = 0, 0.0, []
        if self.progress is not None:  # resumed within this phase
            first, seconds = int(self.progress['batch']), float(self.progress['seconds'])
            losses = [float(x) for x in self.progress['losses']]
            self.progress = None
        start = saved = time.perf_counter()
        start -= seconds
        # short runs (fine-tuning on a few episodes) warm up for a fifth of them
        warmup = min(config.warmup_steps, max(1, total // 5))
        lr = self.base_lr * _schedule(max(0, self.step - 1), warmup, total)
        bar = tqdm(self.batches_ahead(order, first, steps), desc=desc, initial=first,
                   total=steps, disable=not config.progress or self.rank != 0,
                   dynamic_ncols=True)
        for b, batch in bar:
            lr = self.base_lr * _schedule(self.step, warmup, total)
            losses.append(self.train_step(batch, lr))
            bar.set_postfix(loss=f'{np.mean(losses[-20:]):.3f}')
            now = time.perf_counter()
            stopping = self._agreed(stop.requested)
            if self.rank == 0 and (stopping or config.checkpoint_minutes and
                                   now - saved >= 60 * config.checkpoint_minutes and
                                   b + 1 < steps):
                self.progress = {'batch': b + 1, 'seconds': now - start,
                                 'losses': losses, 'rng': batch.rng_after}
                self.save('last', meta)
                self.progress = None
                saved = time.perf_counter()
            if stopping:
                bar.close()
                log.warning('%s: stopped in %s after batch %d of %d (step %d); saved %s, '
                            'and --resume continues from there', stop.requested, name, b + 1,
                            steps, self.step, self.out_dir / 'last')
                raise KeyboardInterrupt(stop.requested)
        return losses, lr, time.perf_counter() - start

    def _end_epoch(self, losses, lr, epoch_s, meta, eval_tasks, metrics_path, phase=None):
        """Validation, the checkpoints and the metrics row of the epoch just trained (or of
        the ``phase`` named, e.g. the curriculum: its row has epoch 0 and no check)."""
        config = self.config
        epoch_loss = self._mean_over_processes(losses)
        if self.rank != 0:
            return
        row = {'epoch': self.epoch, 'step': self.step, 'loss': epoch_loss,
               'lr': lr, 'epoch_s': round(epoch_s, 1),
               'train_minutes': round(self.train_seconds / 60, 2),
               'samples_per_s': round(len(losses) * self.batch_size / epoch_s, 1),
               **({'phase': phase} if phase else {})}
        row.update({f'val_{k}': v for k, v in self.offline_accuracy(self.val_set).items()})
        last = self.save('last', meta)
        checked = bool(eval_tasks) and phase is None and (
            self.epoch % config.eval_every == 0 or self.epoch == config.epochs)
        if checked:
            summary = evaluate_in_sim(str(last), eval_tasks, config.eval_episodes,
                                      seed=900_000, progress=False)
            row['closed_loop_success'] = summary['success_rate']
            row['closed_loop_per_task'] = {t: r['success_rate']
                                           for t, r in summary['per_task'].items()}
            unsolved = unsolved_tasks(row['closed_loop_per_task'], summary['success_rate'])
            if unsolved:
                log.warning('epoch %d: the closed-loop check solves %.0f%% of the suite but no '
                            'episode of %s: the run may not be learning %s (see why with '
                            'contrastive-vla eval-sim --policy %s --tasks %s --trace --probe)',
                            self.epoch, 100 * summary['success_rate'], ', '.join(unsolved),
                            'it' if len(unsolved) == 1 else 'them', last, ','.join(unsolved))
            # ties go to the later epoch: same success on a short check, more training
            if summary['success_rate'] >= self.best_success:
                self.best_success = summary['success_rate']
                self._copy(last, 'best')
        if config.keep_checks and (checked or phase is not None):  # a phase's end: a point too
            self._copy(last, f'epoch_{self.epoch:03d}', ignore=('training_state.pt',))
        log.info('%s: %s', phase or f'epoch {self.epoch}',
                 {k: v for k, v in row.items() if not k.endswith('per_task')})
        with metrics_path.open('a', encoding='utf-8') as f:
            f.write(json.dumps(row) + '\n')

    def _agreed(self, requested):
        """Whether the run stops now: any process asked to (under torchrun, every process
        learns it at the same step, so none is left waiting in an all-reduce)."""
        if self.world_size == 1:
            return bool(requested)
        flag = torch.tensor([1.0 if requested else 0.0], device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())

    def batches_ahead(self, order, first, stop):
        """(b, batch b) for b in ``first`` .. ``stop - 1`` of an epoch whose samples come in
        ``order``, each batch made (read, augmented, tokenised) in a second thread while the
        step before it computes. The batches draw from the run's one generator in batch order
        either way."""
        if first >= stop:
            return
        with ThreadPoolExecutor(1, thread_name_prefix='batches') as pool:
            pending = pool.submit(self.epoch_batch, order, first)
            for b in range(first, stop):
                batch = pending.result()
                if b + 1 < stop:
                    pending = pool.submit(self.epoch_batch, order, b + 1)
                yield b, batch

    def epoch_batch(self, order, b):
        """Batch ``b`` of an epoch whose samples come in ``order``: this process's share."""
        idx = order[b * self.batch_size:(b + 1) * self.batch_size]
        part = np.array_split(np.arange(len(idx)), self.world_size)[self.rank]
        return self.batches.make(idx, self.train_set, part)

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
        # the generator's state: mid-epoch, the one after the last batch trained on (the
        # next is being made in the other thread)
        rng = self.batches.rng_state() if self.progress is None else self.progress['rng']
        torch.save({'optimizer': self.optimizer.state_dict(), 'epoch': self.epoch,
                    'step': self.step, 'best_success': self.best_success,
                    'train_seconds': self.train_seconds, 'rng': rng,
                    'wall_seconds': self.wall_seconds(), 'progress': self.progress},
                   directory / 'training_state.pt')
        return directory

    def wall_seconds(self):
        """The run's wall-clock so far (validation and checks too), over every invocation:
        earlier ones' by the checkpoint this one resumed from, plus this one's."""
        return self.earlier_wall_seconds + time.perf_counter() - self.started

    def _copy(self, source, name, ignore=()):
        target = self.out_dir / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(*ignore))

    def resume(self):
        state_path = self.out_dir / 'last' / 'training_state.pt'
        if not state_path.is_file():
            return False
        state = load_training_state(state_path)
        self.optimizer.load_state_dict(state['optimizer'])
        self.epoch, self.step = int(state['epoch']), int(state['step'])
        self.best_success = float(state['best_success'])
        # older states: no wall-clock, generator or position within an epoch
        self.train_seconds = float(state.get('train_seconds', 0.0))
        self.earlier_wall_seconds = float(state.get('wall_seconds', 0.0))
        if state.get('rng'):
            self.batches.set_rng_state(state['rng'])
        self.progress = state.get('progress')
        return True


class StopRequest:
    """Ctrl-C or SIGTERM during training (a context manager): the first finishes the step,
    saves RUN_DIR/last with its position and stops (``requested`` names the signal); a second
    stops at once. Outside the main thread (no signal handlers there) it is never set; a
    signal ignored when training starts stays ignored."""

    def __init__(self):
        self.requested = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                # a signal the parent ignores stays ignored (a shell's background job ignores
                # Ctrl-C, as Python's own handler does)
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested is not None:
            raise KeyboardInterrupt
        self.requested = signal.Signals(signum).name
        log.warning('%s: finishing this step, then saving and stopping (again to stop now)',
                    self.requested)

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


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


def unsolved_tasks(per_task: dict, overall: float, floor: float = 0.5) -> list[str]:
    """The tasks a closed-loop check solved no episode of while it solved at least ``floor``
    of the suite: a task the run is not learning (a run that stopped reading the zone's colour
    placed nothing at every check while the rest climbed to 81%)."""
    if overall < floor:
        return []
    return sorted(task for task, success in per_task.items() if success == 0)


def _schedule(step, warmup, total):
    """Linear warm-up, then cosine decay to 5%."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


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
             'parameters; on %s%s', len(dataset), len(dataset.episodes), len(train_set),
             len(val_set), model.cfg.name, sum(p.numel() for p in model.parameters()) / 1e6,
             _device_words(device), f', {world_size} processes' if world_size > 1 else '')
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
                val_samples=len(val_set),
                # what the policy reads other colour names as (core/colours.py)
                colour_words=colour_words_in(set(dataset.instructions)))
    best = trainer.fit(meta=meta)
    if rank == 0:
        summary = dict(meta, train_seconds=round(trainer.wall_seconds(), 1),  # the whole run
                       epoch_seconds=round(trainer.train_seconds, 1),  # its steps alone
                       best_closed_loop_success=trainer.best_success,
                       final_val=trainer.offline_accuracy(val_set))
        (out / 'summary.json').write_text(json.dumps(summary, indent=2))
    if world_size > 1:
        torch.distributed.destroy_process_group()
    return best


def _device_words(device: torch.device) -> str:
    """'cuda:0 (NVIDIA H200)' or 'cpu (2 threads)': where the steps run, for the log."""
    if device.type == 'cuda':
        return f'{device} ({torch.cuda.get_device_name(device)})'
    threads = torch.get_num_threads()
    return f'{device} ({threads} thread{"s" if threads != 1 else ""})'


def _init_distributed():
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    if world_size <= 1:
        return 0, 1
    backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    # the other ranks wait in the next step's all-reduce while rank 0 runs the closed-loop check
    torch.distributed.init_process_group(backend, timeout=datetime.timedelta(hours=3))
    return torch.distributed.get_rank(), world_size
