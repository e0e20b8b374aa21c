"""Samples per second of the training step on real data (``contrastive-vla bench --only train``).

The figures behind a recipe's speed settings: for each setting (the arithmetic, the number of
fixed rewordings per instruction, ``torch.compile``) a fresh model of the recipe's config
trains ``steps`` steps on the data the way ``Trainer.fit`` does (the next batch made in a
second thread while the step computes), after ``warmup`` steps that are not timed. With
``instruction_variants`` K every instruction's K rewordings are encoded before the warm-up (what
the first epochs of a run do), so the figure is the rate once they are remembered; the seconds
that took are reported too.
"""

from dataclasses import dataclass
import tempfile
import time

import numpy as np
import torch

from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.data.dataset import DemoDataset, load_demonstrations
from contrastive_vla.model.clip_rt import ClipRT
from contrastive_vla.model.config import ModelConfig
from contrastive_vla.training.config import PRECISIONS, TrainingConfig
from contrastive_vla.training.train import Trainer

DEFAULT_SETTINGS = 'float32:0:compile,float32:0,bfloat16:0,float32:32,bfloat16:32'


@dataclass(frozen=True)
class StepSetting:
    """One way to run the step: ``precision``, ``instruction_variants``, ``compile``."""

    precision: str = 'float32'
    instruction_variants: int = 0
    compile: bool = False

    @classmethod
    def parse(cls, text: str) -> 'StepSetting':
        """'PRECISION[:VARIANTS][:compile]', e.g. 'bfloat16:32' or 'float32:0:compile'."""
        parts = text.strip().split(':')
        try:
            if parts[0] not in PRECISIONS or len(parts) > 3 or \
                    (len(parts) == 3 and parts[2] != 'compile'):
                raise ValueError
            variants = int(parts[1]) if len(parts) > 1 else 0
            if variants < 0:
                raise ValueError
        except ValueError:
            raise ValueError(f'step setting {text!r}: PRECISION[:VARIANTS][:compile], '
                             f'PRECISION one of {", ".join(PRECISIONS)}, VARIANTS >= 0 (e.g. '
                             'bfloat16:32)') from None
        return cls(parts[0], variants, len(parts) == 3)

    def label(self) -> str:
        return f'{self.precision}:{self.instruction_variants}' + \
            (':compile' if self.compile else '')


def parse_settings(text: str) -> list[StepSetting]:
    settings = [StepSetting.parse(item) for item in text.split(',') if item.strip()]
    if not settings:
        raise ValueError('no step settings given')
    return settings


def step_rates(data: list[str], recipe: str = 'fast', settings: str = DEFAULT_SETTINGS,
               steps: int = 100, warmup: int = 30, progress: bool = True) -> dict:
    """{'recipe', 'config', 'batch_size', 'samples', 'instructions', 'steps', 'warmup',
    'settings': [{'setting', 'samples_per_s', 'warmup_s', 'variants_encoded',
    'variants_encoded_s', 'remembered_sentences'}, ...]} of the recipe's model on the bags under
    ``data``: ``variants_encoded`` rewordings encoded before the timing, in
    ``variants_encoded_s`` seconds."""
    if steps < 1 or warmup < 0:
        raise ValueError('steps must be positive and warmup non-negative')
    chosen = parse_settings(settings)
    base = TrainingConfig.from_recipe(recipe, data=data, out='unused', eval_tasks='none')
    cfg = ModelConfig.load(base.config or 'clip_rt_small')
    vocab = PrimitiveVocabulary.load()
    dataset = load_demonstrations(data, vocab, cfg.image_size, progress=progress)
    train_set, val_set = dataset.split_by_episode(base.val_fraction, seed=base.seed)
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for setting in chosen:
            config = TrainingConfig.from_recipe(
                recipe, data=data, out=out, eval_tasks='none', progress=False,
                precision=setting.precision, compile=setting.compile,
                instruction_variants=setting.instruction_variants)
            rows.append(_time_setting(config, cfg, vocab, train_set, val_set, setting,
                                      steps, warmup))
    return {'recipe': recipe, 'config': cfg.name, 'batch_size': base.batch_size,
            'samples': len(train_set), 'instructions': len(set(train_set.instructions)),
            'steps': steps, 'warmup': warmup, 'threads': torch.get_num_threads(),
            'settings': rows}


def _time_setting(config: TrainingConfig, cfg: ModelConfig, vocab: PrimitiveVocabulary,
                  train_set: DemoDataset, val_set: DemoDataset, setting: StepSetting,
                  steps: int, warmup: int) -> dict:
    torch.manual_seed(config.seed)
    model = ClipRT(cfg)
    trainer = Trainer(model, vocab, train_set, val_set, config)
    encoded, encoded_s = (_encode_variants(trainer, train_set) if config.instruction_variants
                          else (0, 0.0))
    order = trainer.epoch_order(0)
    needed = (warmup + steps) * config.batch_size
    if needed > len(order):  # small data: later steps go round again
        order = np.resize(order, needed)
    warm_s = _run_steps(trainer, order, 0, warmup, config.lr)
    timed_s = _run_steps(trainer, order, warmup, steps, config.lr)
    memo = getattr(model.text, '_memo', None)
    return {'setting': setting.label(),
            'samples_per_s': round(steps * config.batch_size / timed_s, 1),
            'warmup_s': round(warm_s, 1), 'variants_encoded': encoded,
            'variants_encoded_s': round(encoded_s, 3),
            'remembered_sentences': None if memo is None else len(memo)}


def _encode_variants(trainer: Trainer, dataset: DemoDataset,
                     chunk: int = 256) -> tuple[int, float]:
    """Encode every rewording of every instruction once (a frozen tower remembers them);
    how many distinct prompts that was and the seconds it took."""
    noise = trainer.batches.instruction_noise
    model = trainer.model
    start = time.perf_counter()
    texts = [noise.variant(text, j) for text in sorted(set(dataset.instructions))
             for j in range(noise.variants)]
    prompts = [model.cfg.format_prompt(t) for t in dict.fromkeys(texts)]
    with torch.no_grad():
        for i in range(0, len(prompts), chunk):
            model.encode_instruction(model.tokenize(prompts[i:i + chunk]))
    return len(prompts), time.perf_counter() - start


def _run_steps(trainer: Trainer, order: np.ndarray, first: int, n: int, lr: float) -> float:
    """Seconds for steps ``first`` .. ``first + n`` of ``order``, the batches made ahead as in
    ``Trainer.fit``."""
    start = time.perf_counter()
    for _, batch in trainer.batches_ahead(order, first, first + n):
        trainer.train_step(batch, lr)
    return time.perf_counter() - start
