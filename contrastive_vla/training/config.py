"""The hyperparameters of one training run, each named once (``contrastive-vla train``).

:class:`TrainingConfig` is the single place a training option is declared: its type, default,
help text and bounds. The command line of ``contrastive-vla train`` is generated from its fields,
``train()`` and the Trainer read it, and each checkpoint's meta.json and the run's summary.json
record it whole, so a run can be repeated from what it wrote.

A *recipe* (``--recipe NAME``: ``config/recipes/NAME.yaml``, or a YAML path) is a named set of
these settings, e.g. everything that built the default model; its ``train`` section holds
TrainingConfig fields, its ``collect`` section the options of the ``collect`` command that
writes the data it is for. Precedence: the dataclass defaults < the recipe < the options given
on the command line.
"""

import argparse
from dataclasses import MISSING, asdict, dataclass, field, fields
import difflib
import os
from pathlib import Path
import types
import typing

from contrastive_vla.core.resources import config_path
from contrastive_vla.sim.tasks import TaskError, load_tasks, resolve_task_ids

LOSSES = ('ce', 'bce')
PRECISIONS = ('float32', 'bfloat16')
RECIPE_SECTIONS = ('description', 'collect', 'train')
NOT_IN_A_RECIPE = ('data', 'out', 'resume', 'recipe')  # what one run, not a recipe, says


@dataclass(frozen=True)
class Bounds:
    """The values a numeric option may take: ``low``/``high`` (None: unbounded), each
    excluded when its ``*_open`` flag is set."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def contains(self, value):
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or not (value > self.high or
                                         (self.high_open and value == self.high))

    def describe(self):
        if self.high is None:
            if self.low == 0:
                return 'positive' if self.low_open else 'non-negative'
            return f'greater than {self.low}' if self.low_open else f'at least {self.low}'
        return (f'in {"(" if self.low_open else "["}{self.low}, {self.high}'
                f'{")" if self.high_open else "]"}')


POSITIVE = Bounds(0, low_open=True)
NON_NEGATIVE = Bounds(0)


def option(default=MISSING, help='', *, flag=None, bounds=None, choices=None, metavar=None,
           required=False, default_factory=MISSING):
    """A TrainingConfig field with what its command-line option needs. ``flag``: the option's
    name when it is not ``--field-name`` (a boolean that defaults to True is turned off by
    it, e.g. ``--no-progress``); ``required``: on the command line only."""
    metadata = {'help': help, 'flag': flag, 'bounds': bounds, 'choices': choices,
                'metavar': metavar, 'required': required}
    return field(default=default, default_factory=default_factory, metadata=metadata)


@dataclass
class TrainingConfig:
    """How to train: the data, the run directory, the optimisation, validation and
    reproducibility. The model's architecture is a ModelConfig, named by ``config``."""

    data: list[str] = option(
        default_factory=list, required=True,
        help='bag directories, or directories holding bags (or links to them)')
    recipe: str | None = option(
        None, metavar='NAME',
        help='start from the settings of a recipe: config/recipes/NAME.yaml (e.g. "fast": '
             'how the default model is trained) or a YAML file; the options given here '
             'override it')
    config: str | None = option(
        None, help="model config name in models/ or a JSON path (default clip_rt_small; with "
                   "--init: the checkpoint's own, or a config that adds modules to it, e.g. "
                   'the robot state)')
    init: str | None = option(
        None, help='start from this checkpoint (fine-tuning or warm start)')
    new_lr_scale: float = option(
        1.0, bounds=POSITIVE,
        help='with --init into a config that adds modules: their learning rate is --lr times '
             'this (they start at zero beside trained weights; e.g. 10 for token_attention)')
    out: str = option(
        'runs/clip_rt', required=True, help='run directory (checkpoints, metrics)')
    epochs: int = option(20, bounds=POSITIVE, help='passes over the training episodes')
    batch_size: int = option(64, bounds=Bounds(2), help='samples per optimizer step')
    lr: float = option(1e-3, bounds=POSITIVE, help='peak learning rate (AdamW)')
    weight_decay: float = option(0.01, bounds=NON_NEGATIVE, help='AdamW weight decay')
    warmup_steps: int = option(
        100, bounds=NON_NEGATIVE,
        help='linear learning-rate warm-up, in steps (at most a fifth of the run), then '
             'cosine decay to a twentieth of --lr')
    curriculum_tasks: str | None = option(
        None, metavar='TASKS',
        help="train the first --curriculum-steps steps on these tasks' episodes alone "
             '(comma-separated task ids, e.g. reach_block; the bags are told apart by the '
             'names collect gives them), then the epochs on all the data, on one '
             'learning-rate schedule over both')
    curriculum_steps: int = option(
        0, bounds=NON_NEGATIVE,
        help='steps of the --curriculum-tasks phase before the epochs (0: no curriculum)')
    loss: str = option(
        'ce', choices=LOSSES,
        help='ce: softmax over the vocabulary (learns faster); bce: CLIP-RT '
             'multi-label in-batch')
    val_fraction: float = option(
        0.1, bounds=Bounds(0, 1, high_open=True),
        help='fraction of episodes held out for validation')
    val_episodes: str | None = option(
        None, metavar='FILE',
        help='hold out exactly the bags named in FILE (one per line), e.g. the '
             'val_episodes.txt of the run --init comes from, so a fine-tune is validated on '
             'episodes it never saw (overrides --val-fraction)')
    eval_every: int = option(
        5, bounds=POSITIVE, help='closed-loop check in the simulator every N epochs')
    keep_checks: bool = option(
        False, help='keep the model of every closed-loop check as RUN_DIR/epoch_NNN (weights, '
                    'config, vocabulary) and the end of the curriculum as epoch_000, to '
                    'evaluate the learning curve on fresh seeds afterwards (contrastive-vla '
                    'curve RUN_DIR)')
    eval_tasks: str = option(
        'all', help='tasks of the closed-loop check ("none" to skip it)')
    eval_episodes: int = option(
        3, bounds=POSITIVE, help='episodes per task of the closed-loop check')
    seed: int = option(
        0, bounds=NON_NEGATIVE,
        help='seeds the weights, the validation split, the epoch shuffles and augmentation')
    threads: int | None = option(None, bounds=POSITIVE, help='torch CPU threads')
    resume: bool = option(
        False, help='continue RUN_DIR/last where it stopped (at the batch, with the random '
                    'draws the run would have made)')
    checkpoint_minutes: float = option(
        10.0, bounds=NON_NEGATIVE, metavar='MIN',
        help='also save RUN_DIR/last every MIN minutes within an epoch, so that --resume '
             'loses at most that much of a stopped run (0: at the end of each epoch only)')
    augment_images: bool = option(
        True, flag='--no-image-augmentation',
        help='train on the images as recorded (no random shifts, brightness or contrast)')
    instruction_noise: float = option(
        0.0, bounds=Bounds(0, 1), metavar='P',
        help='reword this fraction of training instructions: insert 1-2 words no task uses '
             'and drop some articles, so a text tower trained from scratch learns to read the '
             'words that matter rather than the templates (0 = off)')
    instruction_variants: int = option(
        0, bounds=NON_NEGATIVE, metavar='K',
        help='with --instruction-noise: reword each instruction in at most K fixed ways '
             '(fixed by --seed) instead of afresh each time, so a frozen pretrained text '
             'tower encodes each wording once and then remembers it (0: afresh each time)')
    include_failed: bool = option(False, help='also learn from episodes marked as failed')
    images_in_memory: bool = option(
        False, help='read all the training images into RAM (about 49 KB per sample at 128 px) '
                    'instead of memory-mapping them from the image store in the cache '
                    'directory; the same batches')
    compile: bool = option(
        False, help='compile the training step with torch.compile (about 2 min before the '
                    'first step; then about 1.3x the samples/s of the eager step on 2 CPU '
                    'cores for clip_rt_small_tokens); the same model, up to float rounding')
    precision: str = option(
        'float32', choices=PRECISIONS,
        help='arithmetic of the training step: bfloat16 runs the forward pass under '
             'torch.autocast (the weights, the optimizer and the loss stay float32), faster '
             'on CPUs with AVX512-BF16 or AMX and on GPUs; validation and the saved model are '
             'float32 either way')
    progress: bool = option(True, flag='--no-progress', help='no progress bars')

    def __post_init__(self):
        # paths may come as Path objects; the config is recorded as JSON
        if isinstance(self.data, (str, os.PathLike)):
            self.data = [self.data]
        self.data = [str(d) for d in self.data]
        for name in ('config', 'init', 'out', 'val_episodes'):
            if getattr(self, name) is not None:
                setattr(self, name, str(getattr(self, name)))
        for f in fields(self):
            self._check(f, getattr(self, f.name))
        if self.val_episodes is not None and not os.path.isfile(self.val_episodes):
            raise ValueError(f'--val-episodes: no file {self.val_episodes!r}; it should name '
                             'the bags to hold out, one per line.')
        self.eval_task_ids()  # unknown task ids fail now, not after the first epoch
        if self.curriculum_steps and not self.curriculum_tasks:
            raise ValueError('--curriculum-steps needs --curriculum-tasks: the tasks whose '
                             'episodes the first steps train on (e.g. reach_block).')
        self.curriculum_task_ids()

    def curriculum_task_ids(self):
        """The task ids of the curriculum phase, or None when the run has none."""
        if not (self.curriculum_steps and self.curriculum_tasks):
            return None
        try:
            return resolve_task_ids(self.curriculum_tasks, load_tasks())
        except TaskError as exc:
            raise ValueError(f'--curriculum-tasks: {exc}') from None

    @staticmethod
    def _check(f, value):
        flag = _flag(f)
        kind = _value_type(f.type)
        if value is None and _optional(f.type):
            return
        if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f'{flag} must be an integer, got {value!r}.')
        if kind is float and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            raise ValueError(f'{flag} must be a number, got {value!r}.')
        bounds, choices = f.metadata.get('bounds'), f.metadata.get('choices')
        if bounds is not None and not bounds.contains(value):
            raise ValueError(f'{flag} must be {bounds.describe()}, got {value!r}.')
        if choices is not None and value not in choices:
            raise ValueError(f'{flag} must be one of {choices}, got {value!r}.')

    def eval_task_ids(self):
        """The task ids of the closed-loop check, or None when it is off."""
        if self.eval_tasks == 'none':
            return None

        return resolve_task_ids(self.eval_tasks, load_tasks())

    def to_dict(self):
        return asdict(self)

    # ---- the command line ------------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser):
        """One option per field: its flag, type, default and help come from the field. An
        option not given is absent from the parsed arguments (``from_args`` fills it in from
        the recipe or the field's default)."""
        for f in fields(cls):
            meta = f.metadata
            kwargs = {'dest': f.name, 'help': meta.get('help'), 'default': argparse.SUPPRESS}
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            kind = _value_type(f.type)
            if kind is bool and meta.get('flag'):
                kwargs['action'] = 'store_false' if default else 'store_true'
            elif kind is bool:  # --x and --no-x: a recipe's setting can be turned either way
                kwargs['action'] = argparse.BooleanOptionalAction
            else:
                kwargs['type'] = kind
                if meta.get('required'):
                    kwargs['required'] = True
                elif default is not None:
                    kwargs['help'] += f' (default: {default})'.replace('%', '%%')
                if typing.get_origin(f.type) is list:
                    kwargs['nargs'] = '+'
                for key in ('choices', 'metavar'):
                    if meta.get(key) is not None:
                        kwargs[key] = meta[key]
            parser.add_argument(_flag(f), **kwargs)
        return parser

    @classmethod
    def from_args(cls, args):
        """The config of parsed ``add_arguments`` options (validated): the options given,
        then the recipe's settings (``--recipe``), then the defaults."""
        given = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
        recipe = given.pop('recipe', None)
        return cls.from_recipe(recipe, **given) if recipe else cls(**given)

    @classmethod
    def from_recipe(cls, recipe, **overrides):
        """The config of ``recipe``'s ``train`` settings, with ``overrides`` on top."""
        settings = load_recipe(recipe)['train']
        return cls(**{**settings, **overrides, 'recipe': str(recipe)})

    @property
    def out_dir(self):
        return Path(self.out)


def recipe_path(name):
    """The file of recipe ``name``: a YAML path, or config/recipes/NAME.yaml."""
    path = Path(name)
    if path.suffix in ('.yaml', '.yml') or path.is_file():
        return path
    return config_path(f'recipes/{name}.yaml')


def load_recipe(name):
    """The recipe ``name`` (see recipe_path) as {'description', 'collect', 'train'}, its
    train settings checked against TrainingConfig's fields; ValueError (one line) for an
    unknown or misplaced setting, FileNotFoundError for no such recipe."""
    # deferred: yaml is needed only where a recipe is read
    import yaml

    path = recipe_path(name)
    if not path.is_file():
        known = sorted(p.stem for p in config_path('recipes').glob('*.yaml'))
        raise FileNotFoundError(f'--recipe {name}: no recipe {path} (the packaged recipes: '
                                f'{", ".join(known) or "none"}; or give a YAML file)')
    recipe = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
    if not isinstance(recipe, dict) or not isinstance(recipe.get('train', {}), dict):
        raise ValueError(f'recipe {path}: a mapping with a "train" mapping of settings')
    unknown = sorted(set(recipe) - set(RECIPE_SECTIONS))
    if unknown:
        raise ValueError(f'recipe {path}: unknown section(s) {", ".join(unknown)} (a recipe '
                         f'has {", ".join(RECIPE_SECTIONS)})')
    names = [f.name for f in fields(TrainingConfig)]
    for key in recipe.get('train', {}):
        if key in NOT_IN_A_RECIPE:
            raise ValueError(f'recipe {path}: "{key}" is said by each run (--{key}), not by '
                             'a recipe')
        if key not in names:
            near = difflib.get_close_matches(key, names, n=1)
            raise ValueError(f'recipe {path}: unknown training setting "{key}"'
                             + (f' (did you mean "{near[0]}"?)' if near else '')
                             + '; the settings are the options of contrastive-vla train, '
                             'with underscores (e.g. batch_size)')
    return {'description': recipe.get('description', ''),
            'collect': dict(recipe.get('collect') or {}), 'train': dict(recipe.get('train', {}))}


def _flag(f):
    return f.metadata.get('flag') or '--' + f.name.replace('_', '-')


def _optional(annotation):
    return isinstance(annotation, types.UnionType) and type(None) in typing.get_args(annotation)


def _value_type(annotation):
    """int for ``int | None``, str for ``list[str]``, the annotation otherwise."""
    if isinstance(annotation, types.UnionType):
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is list:
        return typing.get_args(annotation)[0]
    return annotation
