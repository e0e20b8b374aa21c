"""Model configuration: one JSON file per architecture in models/ (open_clip style)."""

from dataclasses import asdict, dataclass, field
import json
import math
from pathlib import Path

from contrastive_vla.core.resources import models_dir
from contrastive_vla.robot import description

CLIP_RT_PROMPT = ("what motion should the robot arm perform to complete the instruction "
                  "'{instruction}'?")
FUSIONS = ('film', 'additive', 'late_mlp')
HEADS = ('rank', 'regress')
VISION_TYPES = ('film_cnn', 'open_clip')
POOLS = ('flatten', 'spatial_softmax')  # how the film_cnn tower pools its last feature map
TEXT_TYPES = ('open_clip', 'sentence_encoder')


# sizes a config may ask for: far beyond any model this package trains, far below what
# would exhaust memory before the first layer is built
SIZE_BOUNDS = {
    'embed_dim': (1, 8192),
    'max_instruction_chars': (1, 100_000),
    'channels': (1, 4096),
    'context_length': (1, 4096),
    'width': (1, 8192),
    'heads': (1, 128),
    'layers': (1, 128),
    'vocab_size': (1, 1_000_000),
}
MAX_STAGES = 8  # film_cnn stages (each halves the image)


class ConfigError(ValueError):
    """A model configuration that cannot be built."""


def _check_int(where, name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f'{where}: {name} must be an integer in [{low}, {high}], got '
                          f'{value!r}.')


def state_joint_names():
    """Joint names of the robot state vector, in order: the packaged arm description's arm
    joints, then its finger joints (the order the VLA node and the data module use)."""
    return description.state_joint_names()


@dataclass
class ModelConfig:
    """Architecture of a CLIP-RT model.

    fusion: 'film' (instruction conditions every image-tower block, our default), 'additive'
    (the paper's context = image embedding + instruction embedding), 'late_mlp' (an MLP over
    both embeddings, for towers that cannot be FiLM-conditioned, e.g. open_clip ViTs).
    head: 'rank' (score primitive texts, CLIP-RT) or 'regress' (continuous 8-D delta, the
    CLIP-RT-Action baseline, discretised to the nearest primitive at inference).
    """

    name: str
    embed_dim: int = 256
    image_size: int = 96
    fusion: str = 'film'
    head: str = 'rank'
    vision: dict = field(default_factory=lambda: {'type': 'film_cnn',
                                                  'channels': [32, 64, 96, 128]})
    text: dict = field(default_factory=lambda: {'type': 'open_clip', 'context_length': 32,
                                                'width': 128, 'heads': 4, 'layers': 3})
    prompt: str = CLIP_RT_PROMPT
    init_logit_scale: float = 2.6593  # log(1 / 0.07), as CLIP
    max_instruction_chars: int = 300
    # proprioception, normalised with statistics stored in the checkpoint. The robot state is
    # the joint positions in the arm description's order (config/sim.yaml: 6 arm joints, rad,
    # then the 2 finger joints, m). state_joints names the joints the model sees (e.g. only the
    # fingers: whether the gripper is open, closed on a block or closed on nothing); without
    # it the model sees the first state_dim joints. state_dim is derived from state_joints.
    state_dim: int = 0
    state_joints: list = field(default_factory=list)
    # the FiLM condition also attends over the instruction's token features, with a query
    # from the sentence embedding and the robot state (clip_rt.TokenAttention)
    token_attention: bool = False

    def __post_init__(self):
        where = f'model config {self.name!r}'
        self._check_types_and_sizes(where)
        if self.fusion not in FUSIONS:
            raise ConfigError(f'{where}: fusion must be one of {FUSIONS}, got {self.fusion!r}')
        if self.head not in HEADS:
            raise ConfigError(f'{where}: head must be one of {HEADS}, got {self.head!r}')
        if self.vision.get('type') not in VISION_TYPES:
            raise ConfigError(f'{where}: vision.type must be one of {VISION_TYPES}')
        if self.vision.get('type') == 'film_cnn':
            pool = self.vision.get('pool', 'flatten')
            if pool not in POOLS:
                raise ConfigError(f'{where}: vision.pool must be one of {POOLS}, got {pool!r}')
            per_stage = self.vision.get('convs_per_stage', 1)
            if not isinstance(per_stage, int) or not 1 <= per_stage <= 4:
                raise ConfigError(f'{where}: vision.convs_per_stage must be an integer in '
                                  f'[1, 4], got {per_stage!r}')
        if self.text.get('type') not in TEXT_TYPES:
            raise ConfigError(f'{where}: text.type must be one of {TEXT_TYPES}')
        if self.fusion == 'film' and self.vision['type'] != 'film_cnn':
            raise ConfigError(f'{where}: fusion "film" needs the film_cnn image tower; use '
                              '"late_mlp" or "additive" with open_clip towers')
        if self.token_attention and self.fusion != 'film':
            raise ConfigError(f'{where}: token_attention needs fusion "film" (it adds to the '
                              "FiLM condition what it reads from the instruction's tokens)")
        if not isinstance(self.image_size, int) or not 16 <= self.image_size <= 1024:
            raise ConfigError(f'{where}: image_size must be an integer in [16, 1024]')
        if '{instruction}' not in self.prompt:
            raise ConfigError(f'{where}: prompt must contain {{instruction}}')
        if not isinstance(self.state_dim, int) or self.state_dim < 0:
            raise ConfigError(f'{where}: state_dim must be a non-negative integer')
        if self.state_joints:
            known = state_joint_names()
            if not isinstance(self.state_joints, list) or not all(
                    isinstance(j, str) for j in self.state_joints):
                raise ConfigError(f'{where}: state_joints must be a list of joint names')
            unknown = [j for j in self.state_joints if j not in known]
            if unknown:
                raise ConfigError(f'{where}: state_joints {unknown} are not joints of the arm '
                                  f'description; known: {known}')
            if self.state_dim not in (0, len(self.state_joints)):
                raise ConfigError(f'{where}: state_dim {self.state_dim} does not match the '
                                  f'{len(self.state_joints)} state_joints')
            self.state_dim = len(self.state_joints)
        if self.embed_dim <= 0:
            raise ConfigError(f'{where}: embed_dim must be positive')

    def _check_types_and_sizes(self, where):
        """Each field's type, and sizes within bounds, before anything reads or allocates
        them (a JSON typo like ``"embed_dim": "256"`` or a width of 1e9 is a sentence, not a
        stack trace or a machine out of memory)."""
        if not isinstance(self.name, str):
            raise ConfigError(f'{where}: name must be a string, got {self.name!r}.')
        _check_int(where, 'embed_dim', self.embed_dim, *SIZE_BOUNDS['embed_dim'])
        _check_int(where, 'max_instruction_chars', self.max_instruction_chars,
                   *SIZE_BOUNDS['max_instruction_chars'])
        for name in ('fusion', 'head', 'prompt'):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f'{where}: {name} must be a string, got '
                                  f'{getattr(self, name)!r}.')
        if (not isinstance(self.init_logit_scale, (int, float))
                or isinstance(self.init_logit_scale, bool)
                or not math.isfinite(self.init_logit_scale)):
            raise ConfigError(f'{where}: init_logit_scale must be a number, got '
                              f'{self.init_logit_scale!r}.')
        if not isinstance(self.token_attention, bool):
            raise ConfigError(f'{where}: token_attention must be true or false, got '
                              f'{self.token_attention!r}.')
        for tower in ('vision', 'text'):
            value = getattr(self, tower)
            if not isinstance(value, dict):
                raise ConfigError(f'{where}: {tower} must be a JSON object with a "type", got '
                                  f'{value!r}.')
        channels = self.vision.get('channels')
        low, high = SIZE_BOUNDS['channels']
        if channels is not None and not (
                isinstance(channels, list) and 1 <= len(channels) <= MAX_STAGES
                and all(isinstance(c, int) and not isinstance(c, bool) and low <= c <= high
                        for c in channels)):
            raise ConfigError(f'{where}: vision.channels must be a list of 1 to {MAX_STAGES} '
                              f'integers in [{low}, {high}], got {channels!r}.')
        for key in ('context_length', 'width', 'heads', 'layers', 'vocab_size'):
            if key in self.text:
                _check_int(where, f'text.{key}', self.text[key], *SIZE_BOUNDS[key])
        width, heads = self.text.get('width'), self.text.get('heads')
        if width is not None and heads is not None and width % heads:
            raise ConfigError(f'{where}: text.width ({width}) must be a multiple of text.heads '
                              f'({heads}).')
        for key in ('state_dim',):
            _check_int(where, key, getattr(self, key), 0, 64)
        if not isinstance(self.state_joints, list):
            raise ConfigError(f'{where}: state_joints must be a list of joint names, got '
                              f'{self.state_joints!r}.')

    def format_prompt(self, instruction):
        """The text the instruction tower reads for ``instruction``: ``prompt`` filled in. The
        one place it is formatted, so training and inference see the same text."""
        return self.prompt.format(instruction=instruction)

    @property
    def state_indices(self):
        """Positions in the robot state vector (arm description order) the model sees."""
        if self.state_joints:
            known = state_joint_names()
            return [known.index(j) for j in self.state_joints]
        return list(range(self.state_dim))

    def to_dict(self):
        return asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data, source='<dict>'):
        if not isinstance(data, dict):
            raise ConfigError(f'{source}: expected a JSON object')
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f'{source}: unknown key(s) {sorted(unknown)}')
        if 'name' not in data:
            data = dict(data, name=Path(str(source)).stem)
        return cls(**data)

    @classmethod
    def load(cls, name_or_path):
        """A JSON path, or the name of a config in models/ ('clip_rt_small')."""
        path = Path(name_or_path)
        if not path.suffix and not path.exists():
            path = models_dir() / f'{name_or_path}.json'
        if not path.is_file():
            available = sorted(p.stem for p in models_dir().glob('*.json'))
            raise ConfigError(f'model config {name_or_path!r} not found; available in '
                              f'{models_dir()}: {available}')
        try:
            data = json.loads(path.read_text(encoding='utf-8'))
        except json.JSONDecodeError as exc:
            raise ConfigError(f'{path}: not valid JSON: {exc}') from None
        return cls.from_dict(data, source=path)
