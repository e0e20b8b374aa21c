"""The motion-primitive vocabulary: CLIP-RT's action space as language.

A primitive is a discrete end-effector motion with a canonical phrase ("move the arm to the left
by five centimeters"), paraphrases, and an 8-D delta
``[dx, dy, dz, roll, pitch, yaw, wrist_rotate, gripper]`` (metres, radians; x away from the base,
y to the robot's left, z up; gripper +1 = open, -1 = close, 0 = unchanged).

The vocabulary is data (``config/primitives.yaml`` by default, or a user's own file for another
arm or other step sizes) validated on load; this module only looks things up, composes
sequences and discretises continuous actions.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
import hashlib
import json
import math
import os
from pathlib import Path
import re
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
import yaml

from contrastive_vla.core.delta import DELTA_LAYOUT, GRIPPER_INDEX
from contrastive_vla.core.resources import config_path

MOTION_AXES = ('x', 'y', 'z', 'roll', 'pitch', 'yaw', 'wrist_rotate')
TRANSLATION_AXES = ('x', 'y', 'z')
AXES = MOTION_AXES + ('gripper',)
# A gripper change larger than this wins over arm motion when discretising (CLIP-RT).
GRIPPER_CHANGE_THRESHOLD = 0.5
_RELATIVE_TOLERANCE = 1e-6


class VocabularyError(ValueError):
    """A vocabulary file that cannot be used; the message names the file, entry and problem."""


def normalize_phrase(text: str) -> str:
    """Canonical form for matching: lower case, single spaces, no trailing punctuation."""
    text = ' '.join(str(text).lower().split())
    return re.sub(r'[\s.!?,;:]+$', '', text)


@dataclass(frozen=True)
class Primitive:
    """One entry of the vocabulary."""

    index: int
    name: str
    axis: str
    phrase: str
    delta: tuple[float, ...]
    paraphrases: tuple[str, ...] = ()

    @property
    def is_gripper(self) -> bool:
        return self.axis == 'gripper'

    @property
    def axis_index(self) -> int:
        return AXES.index(self.axis)

    @property
    def value(self) -> float:
        """Signed amount along its axis (metres, radians, or +1 open / -1 close)."""
        return self.delta[self.axis_index]

    @property
    def magnitude(self) -> float:
        return abs(self.value)

    @property
    def direction(self) -> int:
        return 1 if self.value > 0 else -1

    @property
    def texts(self) -> tuple[str, ...]:
        """The canonical phrase followed by every paraphrase."""
        return (self.phrase,) + self.paraphrases

    def delta_array(self) -> NDArray[np.float64]:
        return np.asarray(self.delta, dtype=np.float64)


@dataclass(frozen=True)
class NetDisplacement:
    """The result of executing a sequence of primitives from the identity pose."""

    translation: NDArray[np.float64]  # (3,) metres in the base frame
    rotation: NDArray[np.float64]  # (3, 3) base-frame rotation of the gripper
    wrist_rotate: float  # radians, summed
    gripper: str  # 'open', 'close' or 'unchanged'

    @property
    def rpy(self) -> NDArray[np.float64]:
        """Roll, pitch, yaw (x-y-z extrinsic) of :attr:`rotation`, radians."""
        return rotation_to_rpy(self.rotation)


# What the lookups accept for a primitive: its class index, name, phrase, or itself.
PrimitiveKey = Primitive | str | int | np.integer


def axis_rotation(axis: str, angle: float) -> NDArray[np.float64]:
    """3x3 rotation about base axis 'roll' (x), 'pitch' (y) or 'yaw' (z)."""
    c, s = math.cos(angle), math.sin(angle)
    if axis == 'roll':
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == 'pitch':
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    if axis == 'yaw':
        return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    raise ValueError(f'not a rotation axis: {axis!r}')


def rotation_to_rpy(matrix: ArrayLike) -> NDArray[np.float64]:
    """Roll, pitch, yaw with R = Rz(yaw) Ry(pitch) Rx(roll)."""
    m = np.asarray(matrix)
    pitch = math.asin(max(-1.0, min(1.0, -m[2, 0])))
    roll = math.atan2(m[2, 1], m[2, 2])
    yaw = math.atan2(m[1, 0], m[0, 0])
    return np.array([roll, pitch, yaw])


class PrimitiveVocabulary:
    """An ordered, validated set of primitives. Index order is the model's class order."""

    def __init__(self, primitives: Iterable[Primitive], translation_weight: float = 7.854,
                 source: str | os.PathLike[str] = '<memory>') -> None:
        self.primitives = tuple(primitives)
        self.translation_weight = float(translation_weight)
        self.source = str(source)
        self._by_name = {p.name: p for p in self.primitives}
        self._by_text = {}
        for p in self.primitives:
            for text in p.texts:
                self._by_text[normalize_phrase(text)] = p
        # (axis, direction) -> primitives sorted by magnitude, for discretisation
        self._ladders = {}
        for p in self.primitives:
            if not p.is_gripper:
                self._ladders.setdefault((p.axis, p.direction), []).append(p)
        for ladder in self._ladders.values():
            ladder.sort(key=lambda p: p.magnitude)
        self._gripper = {p.direction: p for p in self.primitives if p.is_gripper}

    # ---- loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> PrimitiveVocabulary:
        """Load and validate a vocabulary file (default: the package's primitives.yaml)."""
        path = Path(path) if path is not None else config_path('primitives.yaml')
        try:
            text = path.read_text(encoding='utf-8')
        except FileNotFoundError:
            raise VocabularyError(f'{path}: vocabulary file not found') from None
        except (OSError, UnicodeDecodeError) as exc:
            raise VocabularyError(f'{path}: cannot read vocabulary file: {exc}') from None
        try:
            data = yaml.load(text, Loader=getattr(yaml, 'CSafeLoader', yaml.SafeLoader))
        except yaml.YAMLError as exc:
            raise VocabularyError(f'{path}: not valid YAML: {exc}') from None
        return cls.from_dict(data, source=path)

    @classmethod
    def from_dict(cls, data: Any,
                  source: str | os.PathLike[str] = '<memory>') -> PrimitiveVocabulary:
        if not isinstance(data, dict):
            raise VocabularyError(f'{source}: expected a mapping with a "primitives" list')
        entries = data.get('primitives')
        if not isinstance(entries, list) or not entries:
            raise VocabularyError(f'{source}: "primitives" must be a non-empty list')
        weight = data.get('translation_weight', 7.854)
        if not _is_finite_number(weight) or weight <= 0:
            raise VocabularyError(
                f'{source}: translation_weight must be a positive finite number, got {weight!r}')
        primitives, names, texts = [], {}, {}
        for i, entry in enumerate(entries):
            primitive = _parse_entry(entry, i, source)
            where = f'{source}: entry {i} ({primitive.name!r})'
            if primitive.name in names:
                raise VocabularyError(
                    f'{where}: duplicate name, already used by entry {names[primitive.name]}')
            names[primitive.name] = i
            for text in primitive.texts:
                key = normalize_phrase(text)
                if key in texts:
                    other = texts[key]
                    owner = 'itself' if other == primitive.name else f'entry {other!r}'
                    raise VocabularyError(
                        f'{where}: duplicate phrase {text!r}, already used by {owner}')
                texts[key] = primitive.name
            primitives.append(primitive)
        return cls(primitives, translation_weight=weight, source=source)

    # ---- lookup ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.primitives)

    def __iter__(self) -> Iterator[Primitive]:
        return iter(self.primitives)

    def __getitem__(self, key: int | np.integer | str) -> Primitive:
        """By class index (int) or by name (str)."""
        if isinstance(key, (int, np.integer)):
            return self.primitives[int(key)]
        try:
            return self._by_name[key]
        except KeyError:
            raise KeyError(f'no primitive named {key!r} in {self.source}') from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.primitives]

    @property
    def phrases(self) -> list[str]:
        """Canonical phrases in class order."""
        return [p.phrase for p in self.primitives]

    def lookup(self, text: str) -> Primitive | None:
        """The primitive whose canonical phrase or paraphrase is ``text``, or None."""
        return self._by_text.get(normalize_phrase(text))

    def from_phrase(self, text: str) -> Primitive:
        """Like :meth:`lookup` but raises a KeyError that says what was not found."""
        primitive = self.lookup(text)
        if primitive is None:
            raise KeyError(f'{text!r} is not a phrase or paraphrase of any primitive in '
                           f'{self.source}')
        return primitive

    def resolve(self, key: PrimitiveKey) -> Primitive:
        """A primitive from a name, a phrase/paraphrase, a class index or a Primitive."""
        if isinstance(key, Primitive):
            return key
        if isinstance(key, (int, np.integer)):
            return self[key]
        return self._by_name.get(key) or self.from_phrase(key)

    def delta(self, key: PrimitiveKey) -> NDArray[np.float64]:
        """The 8-D delta of a primitive given by name, phrase or index."""
        return self.resolve(key).delta_array()

    def fingerprint(self) -> str:
        """Hash of names, phrases and deltas: a checkpoint records it to detect a mismatch."""
        payload = [[p.name, p.phrase, [round(v, 9) for v in p.delta]] for p in self.primitives]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            'format_version': 1,
            'translation_weight': self.translation_weight,
            'primitives': [
                {'name': p.name, 'axis': p.axis, 'phrase': p.phrase, 'delta': list(p.delta),
                 'paraphrases': list(p.paraphrases)} for p in self.primitives],
        }

    # ---- composition -------------------------------------------------------------------
    def compose(self, sequence: Iterable[PrimitiveKey]) -> NetDisplacement:
        """Net displacement of executing ``sequence`` (names, phrases, indices or Primitives).

        Translations add in the base frame; rotations compose in the base frame about the tool
        centre point (later primitives act on the result of earlier ones); wrist rotations add;
        the gripper ends in the state of the last gripper primitive.
        """
        translation = np.zeros(3)
        rotation = np.eye(3)
        wrist = 0.0
        gripper = 'unchanged'
        for key in sequence:
            p = self.resolve(key)
            if p.is_gripper:
                gripper = 'open' if p.value > 0 else 'close'
            elif p.axis in TRANSLATION_AXES:
                translation[p.axis_index] += p.value
            elif p.axis == 'wrist_rotate':
                wrist += p.value
            else:
                rotation = axis_rotation(p.axis, p.value) @ rotation
        return NetDisplacement(translation, rotation, wrist, gripper)

    # ---- discretisation ----------------------------------------------------------------
    def ladder(self, axis: str, direction: int) -> list[Primitive]:
        """The motion primitives along ``axis`` ('x', 'roll', ...) in ``direction`` (+1 / -1),
        smallest step first (empty if the vocabulary has none)."""
        return list(self._ladders.get((axis, direction), ()))

    def discretize(self, action: ArrayLike) -> Primitive | None:
        """Map a continuous 7-D or 8-D action to the nearest primitive, as CLIP-RT does.

        ``action`` is ``[dx, dy, dz, roll, pitch, yaw, wrist_rotate(, gripper_change)]``;
        gripper_change is the change of the gripper command (+1 opened, -1 closed). A gripper
        change above 0.5 wins over arm motion. Otherwise the dominant axis is the one with the
        largest magnitude, translations weighted by ``translation_weight``; its magnitude is
        binned to the nearest step of that axis (the midpoints between steps are CLIP-RT's
        thresholds [0.03, 0.075, 0.15] m and [0.175, 0.524, 1.178] rad). Returns None when the
        motion is below the smallest step (1 cm / 5 degrees) or the vocabulary has no
        primitive for it.
        """
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape[0] not in (7, 8):
            raise ValueError(f'action must have 7 or 8 values, got {a.shape[0]}')
        if not np.all(np.isfinite(a)):
            raise ValueError(f'action has non-finite values: {a.tolist()}')
        if a.shape[0] == 8 and abs(a[GRIPPER_INDEX]) > GRIPPER_CHANGE_THRESHOLD:
            gripper = self._gripper.get(1 if a[GRIPPER_INDEX] > 0 else -1)
            if gripper is not None:
                return gripper
        weights = np.array([self.translation_weight] * 3 + [1.0] * 4)
        scores = np.abs(a[:7]) * weights
        for axis_index in np.argsort(-scores, kind='stable'):
            value = a[axis_index]
            ladder = self._ladders.get((MOTION_AXES[axis_index], 1 if value > 0 else -1))
            if ladder is None or value == 0:
                continue
            magnitude = abs(value)
            if magnitude < ladder[0].magnitude * (1 - _RELATIVE_TOLERANCE):
                return None
            mids = [(lo.magnitude + hi.magnitude) / 2 for lo, hi in zip(ladder, ladder[1:])]
            return ladder[bisect.bisect_right(mids, magnitude * (1 + _RELATIVE_TOLERANCE))]
        return None


def gripper_change(previous_state: float, new_state: float) -> float:
    """Signed gripper change between absolute states (1 = open, 0 = closed), for discretize."""
    return float(new_state) - float(previous_state)


def _is_finite_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_entry(entry, i, source):
    where = f'{source}: entry {i}'
    if not isinstance(entry, dict):
        raise VocabularyError(f'{where}: expected a mapping, got {type(entry).__name__}')
    name = entry.get('name')
    if not isinstance(name, str) or not name.strip():
        raise VocabularyError(f'{where}: missing or empty "name"')
    where = f'{where} ({name!r})'
    unknown = set(entry) - {'name', 'axis', 'phrase', 'delta', 'paraphrases'}
    if unknown:
        raise VocabularyError(f'{where}: unknown field(s) {sorted(unknown)}')
    axis = entry.get('axis')
    if axis not in AXES:
        raise VocabularyError(f'{where}: unknown axis {axis!r}; expected one of {list(AXES)}')
    phrase = entry.get('phrase')
    if not isinstance(phrase, str) or not normalize_phrase(phrase):
        raise VocabularyError(f'{where}: missing or empty "phrase"')
    delta = entry.get('delta')
    if not isinstance(delta, list):
        raise VocabularyError(f'{where}: "delta" must be a list of {len(DELTA_LAYOUT)} numbers')
    if len(delta) != len(DELTA_LAYOUT):
        raise VocabularyError(f'{where}: delta has {len(delta)} numbers, expected '
                              f'{len(DELTA_LAYOUT)} {list(DELTA_LAYOUT)}')
    for j, v in enumerate(delta):
        if not _is_finite_number(v):
            raise VocabularyError(
                f'{where}: delta[{j}] ({DELTA_LAYOUT[j]}) must be a finite number, got {v!r}')
    axis_index = AXES.index(axis)
    others = [DELTA_LAYOUT[j] for j, v in enumerate(delta) if v != 0 and j != axis_index]
    if others:
        raise VocabularyError(f'{where}: axis is {axis!r} but delta also moves {others}')
    if delta[axis_index] == 0:
        raise VocabularyError(f'{where}: delta is zero along its axis {axis!r}')
    if axis == 'gripper' and abs(delta[axis_index]) != 1:
        raise VocabularyError(f'{where}: a gripper delta must be +1 (open) or -1 (close)')
    paraphrases = entry.get('paraphrases', [])
    if not isinstance(paraphrases, list) or not all(
            isinstance(p, str) and normalize_phrase(p) for p in paraphrases):
        raise VocabularyError(f'{where}: "paraphrases" must be a list of non-empty strings')
    return Primitive(index=i, name=name, axis=axis, phrase=phrase,
                     delta=tuple(float(v) for v in delta), paraphrases=tuple(paraphrases))
