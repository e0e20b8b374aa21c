"""Plain sentences -> vocabulary primitives: what a person says while teaching the robot.

Three ways, tried in order:

1. the sentence *is* a phrase or paraphrase of the vocabulary ("move left 5 cm");
2. it is parsed: a motion word picks the axis and direction ("left", "go down", "raise",
   "roll right", "twist clockwise", "open the gripper"), a number with a unit picks the amount
   ("five centimeters", "3 cm", "20 mm", "45 degrees", "0.05 m", "a quarter turn"), and the
   primitive on that axis the amount rounds to (the vocabulary's own bins, as in
   ``PrimitiveVocabulary.discretize``) is chosen; a vague amount picks a rung of the axis's
   ladder from the table ``config/amounts.yaml`` that the vocabulary's paraphrases follow too
   ("a smidge" the smallest step, "a bit" / "slightly" the second, "a lot" the largest); no
   amount means the default step (5 cm / 15 degrees); an amount far outside the vocabulary's
   steps ("ten meters", "1 mm"), a number without a unit it knows ("left 5", "3 furlongs") or a
   unit without a number ("a few cm") is not guessed: the nearest steps come back for the
   person to confirm;
3. otherwise it is compared with every phrase and paraphrase by character-trigram similarity;
   a weak or close call comes back with candidates for the person to confirm.

Every answer says how it was understood, so a surprising mapping is visible before it runs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
import functools
import math
import os
import re

import numpy as np
import yaml

from contrastive_vla.core.resources import config_path
from contrastive_vla.core.vocabulary import AXES, Primitive, PrimitiveVocabulary

DEFAULT_TRANSLATION = 0.05   # m, when no amount is said
DEFAULT_ROTATION = math.radians(15)
ACCEPT_SIMILARITY = 0.55
ACCEPT_MARGIN = 0.06

_NUMBER_WORDS = {
    'zero': 0, 'one': 1, 'two': 2, 'three': 3, 'four': 4, 'five': 5, 'six': 6,
    'seven': 7, 'eight': 8, 'nine': 9, 'ten': 10, 'eleven': 11, 'twelve': 12, 'fifteen': 15,
    'twenty': 20, 'thirty': 30, 'forty': 40, 'fifty': 50, 'sixty': 60, 'seventy': 70,
    'eighty': 80, 'ninety': 90, 'half': 0.5, 'quarter': 0.25, 'eighth': 0.125, 'couple': 2,
}
_UNITS = {  # unit word -> (kind, factor to metres / radians)
    'mm': ('length', 0.001), 'millimeter': ('length', 0.001), 'millimetre': ('length', 0.001),
    'cm': ('length', 0.01), 'centimeter': ('length', 0.01), 'centimetre': ('length', 0.01),
    'dm': ('length', 0.1), 'decimeter': ('length', 0.1), 'decimetre': ('length', 0.1),
    'm': ('length', 1.0), 'meter': ('length', 1.0), 'metre': ('length', 1.0),
    'km': ('length', 1000.0), 'kilometer': ('length', 1000.0), 'kilometre': ('length', 1000.0),
    'inch': ('length', 0.0254), 'in': ('length', 0.0254), 'ft': ('length', 0.3048),
    'foot': ('length', 0.3048), 'feet': ('length', 0.3048), 'yard': ('length', 0.9144),
    'deg': ('angle', math.pi / 180), 'degree': ('angle', math.pi / 180),
    '°': ('angle', math.pi / 180), 'rad': ('angle', 1.0), 'radian': ('angle', 1.0),
    'turn': ('angle', 2 * math.pi), 'revolution': ('angle', 2 * math.pi),
}
_DIGIT_WORDS = {w: v for w, v in _NUMBER_WORDS.items() if v in range(1, 10) and w != 'couple'}
# words allowed between a number and its unit ("half a centimeter", "an eighth of a turn")
_LINKS = ('a', 'an', 'of')
# amounts beyond these multiples of the largest / smallest step are confirmed, not rounded
OUT_OF_RANGE = (0.5, 2.0)
# (keyword, axis, [(direction, sign)]): the first keyword said together with one of its
# directions wins; "tilt" rolls sideways and pitches up and down, "roll clockwise" is a roll
_ROLL = [('right', 1), ('left', -1), ('counterclockwise', -1), ('counter-clockwise', -1),
         ('anticlockwise', -1), ('anti-clockwise', -1), ('clockwise', 1)]
_PITCH = [('down', 1), ('downward', 1), ('downwards', 1), ('lower', 1),
          ('up', -1), ('upward', -1), ('upwards', -1), ('higher', -1)]
# tipping forward / back pitches the gripper down / up
_TIP = _PITCH + [('forward', 1), ('forwards', 1), ('back', -1), ('backward', -1),
                 ('backwards', -1)]
_YAW = [('left', 1), ('right', -1)]
_ROTATIONS = [
    ('roll', 'roll', _ROLL), ('bank', 'roll', _ROLL),
    ('pitch', 'pitch', _TIP), ('tip', 'pitch', _TIP), ('nose', 'pitch', _TIP),
    ('angle', 'pitch', _PITCH), ('point', 'pitch', _PITCH),
    ('tilt', 'pitch', _TIP), ('tilt', 'roll', _ROLL[:2]),
    ('yaw', 'yaw', _YAW), ('swivel', 'yaw', _YAW), ('swing', 'yaw', _YAW), ('pan', 'yaw', _YAW),
    ('turn', 'yaw', _YAW), ('point', 'yaw', _YAW),
]
_WRIST = [('counterclockwise', -1), ('counter-clockwise', -1), ('anticlockwise', -1),
          ('anti-clockwise', -1), ('clockwise', 1)]
# checked in this order, first match wins: "further" only when no other direction is said
# ("go further left")
_TRANSLATIONS = [
    ('x', 1, ('forward', 'forwards', 'ahead', 'away from me', 'advance', 'extend',
              'away from the base', 'away from the robot')),
    ('x', -1, ('backward', 'backwards', 'back', 'toward me', 'towards me', 'closer', 'retreat',
               'retract', 'withdraw', 'toward the base', 'towards the base',
               'toward the robot', 'towards the robot')),
    ('y', 1, ('left', 'leftward', 'leftwards')),
    ('y', -1, ('right', 'rightward', 'rightwards')),
    ('z', 1, ('up', 'upward', 'upwards', 'raise', 'lift', 'higher', 'ascend')),
    ('z', -1, ('down', 'downward', 'downwards', 'lower', 'descend', 'drop')),
    ('x', 1, ('further', 'farther')),
]
_OPEN = ('open', 'release', 'let go', 'let it go', 'ungrip', 'ungrasp', 'unclamp', 'drop it',
         'spread')
_CLOSE = ('close', 'grip', 'grasp', 'grab', 'squeeze', 'pinch', 'clamp', 'hold it', 'shut',
          'pick it up', 'pick up')


@dataclass(frozen=True)
class AmountWords:
    """The amount-word table (``config/amounts.yaml``): vague phrase -> rung of the ladder
    (0 = smallest step), and phrases that stand for a number with a unit."""

    vague: dict[str, int]
    exact: dict[str, str]

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> AmountWords:
        path = config_path('amounts.yaml') if path is None else path
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f)
        vague = {}
        for rung, phrases in data.get('vague', {}).items():
            if not isinstance(rung, int) or rung < 0:
                raise ValueError(f'{path}: a rung is a step number from 0, got {rung!r}')
            for phrase in phrases:
                key = ' '.join(str(phrase).lower().split())
                if key in vague:
                    raise ValueError(f'{path}: {phrase!r} is listed twice')
                vague[key] = rung
        exact = {' '.join(str(k).lower().split()): str(v)
                 for k, v in data.get('exact', {}).items()}
        return cls(vague, exact)

    def phrases(self, rung: int) -> list[str]:
        """The vague phrases meaning ``rung``."""
        return [p for p, r in self.vague.items() if r == rung]


@functools.lru_cache(maxsize=None)
def amount_words() -> AmountWords:
    """The package's amount-word table."""
    return AmountWords.load()


def motion_words() -> set[str]:
    """Every word the parser reads as a motion, a gripper action or an amount qualifier."""
    phrases = [w for _, _, words in _TRANSLATIONS for w in words]
    phrases += [keyword for keyword, _, _ in _ROTATIONS]
    phrases += [w for _, _, directions in _ROTATIONS for w, _ in directions]
    phrases += [w for w, _ in _WRIST]
    phrases += list(_OPEN + _CLOSE) + list(amount_words().vague) + list(amount_words().exact)
    return {w for phrase in phrases for w in re.findall(r'[a-z]+', phrase.lower())}


@dataclass
class Interpretation:
    primitive: Primitive | None = None  # the Primitive chosen (None: not understood)
    how: str = ''                       # 'phrase' | 'parsed' | 'similar' | ''
    note: str = ''                      # what was assumed, for the person to see
    candidates: list[tuple[Primitive, float]] = field(default_factory=list)  # when unsure

    @property
    def needs_confirmation(self) -> bool:
        return self.primitive is None and bool(self.candidates)


def _words(text):
    return re.findall(r'[a-z°]+(?:-[a-z]+)?|\d+(?:\.\d+)?', text.lower())


def _has(text, phrase):
    return re.search(r'(?<![a-z])' + re.escape(phrase) + r'(?![a-z])', text) is not None


def _read_amount(text, words=None):
    """(kind, value, rung, rest): the amount of ``text`` as :func:`parse_amount` reads it, and
    the text without its amount phrases, for :func:`parse_motion` ("tilt left a right angle",
    "go further left much further")."""
    words = amount_words() if words is None else words
    t = ' ' + ' '.join(_words(text.lower().replace('°', ' ° '))) + ' '
    for phrase, value in words.exact.items():
        t = re.sub(r'(?<![a-z])' + re.escape(phrase) + r'(?![a-z])', f' {value} ', t)
    kind, value = _number_with_unit(_words(t))
    rungs = []
    rest = t
    for phrase in sorted(words.vague, key=len, reverse=True):  # "very slightly" first
        pattern = r'(?<![a-z])' + re.escape(phrase) + r'(?![a-z])'
        if re.search(pattern, rest):
            rungs.append(words.vague[phrase])
            rest = re.sub(pattern, ' ', rest)
    rest = ' '.join(rest.split())
    if kind is None:  # "a few centimeters": a unit without a number this reads
        said = _words(rest)
        units = [_unit(said, j) for j in range(len(said))]
        # not the ones that are also common words ("put it in", "turn left")
        unit = next((u for u in units if u not in (None, 'in', 'm', 'turn', 'revolution')),
                    None)
        if unit is not None:
            return 'unit', unit, None, rest
    return kind, value, (min(rungs) if rungs else None), rest


def _unit(words, j):
    """The unit word at ``words[j]`` (plural allowed), or None."""
    if j >= len(words):
        return None
    w = words[j]
    unit = next((u for u in (w, w[:-1] if w.endswith('s') else None,
                             w[:-2] if w.endswith('es') else None) if u in _UNITS), None)
    # "in" is a unit only at the end: "move 5 in" but not "5 in the box"
    return None if unit == 'in' and j + 1 < len(words) else unit


def _number_with_unit(words):
    """(kind, value): the first number said with a unit; ('number', n) for a number without
    one; (None, None) when no number was said."""
    bare = None
    for i, w in enumerate(words):
        value = None
        if re.fullmatch(r'\d+(?:\.\d+)?', w):
            value = float(w)
        elif w in ('a', 'an'):  # "a centimeter", but "a" alone is no number
            value = 1.0 if _unit(words, i + 1) else None
        elif w in _NUMBER_WORDS:
            value = float(_NUMBER_WORDS[w])
        elif '-' in w and all(p in _NUMBER_WORDS for p in w.split('-')):
            value = float(sum(_NUMBER_WORDS[p] for p in w.split('-')))
        if value is None:
            continue
        j = i + 1
        if value >= 20 and j < len(words) and words[j] in _DIGIT_WORDS:   # "forty five"
            value += _DIGIT_WORDS[words[j]]
            j += 1
        while j < len(words) and words[j] in _LINKS and _unit(words, j) is None:
            j += 1
        unit = _unit(words, j)
        if unit is not None:
            kind, factor = _UNITS[unit]
            return kind, value * factor
        if bare is None:
            bare = value
    return ('number', bare) if bare is not None else (None, None)


def parse_amount(text: str) -> tuple[str | None, float | str | None, int | None]:
    """(kind, value, rung): kind 'length' (value in m) or 'angle' (rad); 'number' when a number
    came without a unit this knows (value: the bare number); 'unit' when a unit came without a
    number ("a few cm"; value: the unit); None (value None) when no number was said.
    ``rung``: the step a vague amount means (0 = smallest; ``config/amounts.yaml``), or None."""
    return _read_amount(text)[:3]


def parse_motion(text: str) -> tuple[str, int] | None:
    """(axis, sign) named by the sentence, or None."""
    return _motion(_read_amount(text)[3])


def _motion(text):
    t = ' '.join(_words(text))
    if any(_has(t, w) for w in _CLOSE):
        return 'gripper', -1
    if any(_has(t, w) for w in _OPEN):
        return 'gripper', 1
    for keyword, axis, directions in _ROTATIONS:
        if _has(t, keyword):
            for direction, sign in directions:
                if _has(t, direction):
                    return axis, sign
    for word, sign in _WRIST:
        if _has(t, word):
            return 'wrist_rotate', sign
    for axis, sign, keys in _TRANSLATIONS:
        if any(_has(t, k) for k in keys):
            return axis, sign
    return None


def _trigrams(text):
    t = f'  {" ".join(_words(text))} '
    return Counter(t[i:i + 3] for i in range(len(t) - 2))


def _cosine(a, b):
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


class SentenceMapper:
    """Maps sentences to primitives of ``vocab`` (see the module docstring); ``amounts``: the
    amount-word table (default: ``config/amounts.yaml``)."""

    def __init__(self, vocab: PrimitiveVocabulary, amounts: AmountWords | None = None) -> None:
        self.vocab = vocab
        self.amounts = amount_words() if amounts is None else amounts
        self._texts = [(p, _trigrams(text)) for p in vocab for text in p.texts]

    def similar(self, sentence: str, k: int = 3) -> list[tuple[Primitive, float]]:
        """[(Primitive, similarity)] best first, one entry per primitive."""
        grams = _trigrams(sentence)
        best = {}
        for p, g in self._texts:
            s = _cosine(grams, g)
            if s > best.get(p.index, (None, -1))[1]:
                best[p.index] = (p, s)
        return sorted(best.values(), key=lambda e: -e[1])[:k]

    def interpret(self, sentence: str) -> Interpretation:
        text = ' '.join(str(sentence).split())
        if not text:
            return Interpretation(note='nothing was said')
        exact = self.vocab.lookup(text)
        if exact is not None:
            return Interpretation(exact, 'phrase')
        parsed = self.parse(text)
        if parsed is not None:
            return parsed
        ranked = self.similar(text)
        if ranked and ranked[0][1] >= ACCEPT_SIMILARITY and (
                len(ranked) == 1 or ranked[0][1] - ranked[1][1] >= ACCEPT_MARGIN):
            return Interpretation(ranked[0][0], 'similar',
                                  f'closest to "{ranked[0][0].phrase}" '
                                  f'(similarity {ranked[0][1]:.2f})')
        return Interpretation(note=f'not sure what "{text}" means', candidates=ranked)

    def parse(self, sentence: str) -> Interpretation | None:
        """Way 2 alone (motion words and amounts, no phrase lookup or similarity); None when
        the sentence names no motion."""
        text = ' '.join(str(sentence).split())
        kind, value, rung, rest = _read_amount(text, self.amounts)
        motion = _motion(rest)
        if motion is None:
            return None
        return self._from_motion(text, *motion, kind, value, rung)

    def _from_motion(self, text, axis, sign, kind, value, rung):
        if axis == 'gripper':
            options = [p for p in self.vocab if p.axis == axis and p.direction == sign]
            if not options:
                return Interpretation(note=f'the vocabulary has no primitive for {axis} '
                                           f'{sign:+d}')
            return Interpretation(options[0], 'parsed')
        ladder = self.vocab.ladder(axis, sign)  # smallest step first
        if not ladder:
            return Interpretation(note=f'the vocabulary has no primitive for {axis} {sign:+d}')
        rotation = axis not in ('x', 'y', 'z')
        unit = 'deg' if rotation else 'cm'
        scale = 180 / math.pi if rotation else 100
        note = ''
        if kind == 'number':  # "left 5": centimetres? millimetres? ask
            ranked = sorted(ladder, key=lambda p: abs(math.log(p.magnitude * scale /
                                                               max(value, 1e-9))))
            return Interpretation(note=f'"{text}": {value:g} of which unit?',
                                  candidates=[(p, 0.0) for p in ranked[:3]])
        if kind == 'unit':
            return Interpretation(note=f'"{text}": how many {value}s?',
                                  candidates=[(p, 0.0) for p in ladder[:3]])
        if kind is not None and (kind == 'angle') != rotation:
            return Interpretation(note=f'"{text}": a {kind} does not fit a '
                                       f'{"rotation" if rotation else "translation"}',
                                  candidates=[(p, 0.0) for p in ladder[:3]])
        if value is None:
            if rung is not None:
                chosen = ladder[min(rung, len(ladder) - 1)]
                return Interpretation(chosen, 'parsed',
                                      f'"{_said_rung(text, rung, self.amounts)}": step '
                                      f'{min(rung, len(ladder) - 1) + 1} of {len(ladder)} '
                                      f'({chosen.magnitude * scale:g} {unit})')
            value = DEFAULT_ROTATION if rotation else DEFAULT_TRANSLATION
            note = 'no amount said: default step'
        if value <= 0:
            return Interpretation(note=f'"{text}": the amount must be positive')
        chosen = self._nearest(axis, sign, value) or ladder[0]
        low, high = ladder[0].magnitude, ladder[-1].magnitude
        if value > OUT_OF_RANGE[1] * high or value < OUT_OF_RANGE[0] * low:
            bound = 'more than the largest' if value > high else 'less than the smallest'
            return Interpretation(note=f'{value * scale:g} {unit} is far {bound} step of the '
                                       f'vocabulary ({chosen.magnitude * scale:g} {unit})',
                                  candidates=[(chosen, 0.0)])
        if not note and abs(chosen.magnitude - value) > 0.25 * value:
            note = (f'{value * scale:g} {unit} is not a step of the vocabulary; nearest: '
                    f'{chosen.magnitude * scale:g} {unit}')
        return Interpretation(chosen, 'parsed', note)

    def _nearest(self, axis, sign, value):
        """The step an amount rounds to: the vocabulary's own bins (discretize), so a said
        amount lands where a demonstrated motion of that size would be labelled."""
        action = np.zeros(len(AXES))
        action[AXES.index(axis)] = sign * value
        return self.vocab.discretize(action)


def _said_rung(text, rung, amounts):
    """The vague phrase of ``text`` that chose ``rung``, for the note."""
    t = ' '.join(_words(text))
    return next((p for p in sorted(amounts.phrases(rung), key=len, reverse=True)
                 if _has(t, p)), 'vague amount')
