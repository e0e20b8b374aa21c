"""Plain sentences -> vocabulary primitives: what a person says while teaching the robot.

Three ways, tried in order:

1. the sentence *is* a phrase or paraphrase of the vocabulary ("move left 5 cm");
2. it is parsed: a motion word picks the axis and direction ("left", "go down", "raise",
   "roll right", "twist clockwise", "open the gripper"), a number with a unit picks the amount
   ("five centimeters", "3 cm", "20 mm", "45 degrees", "0.05 m"), and the primitive on that axis
   with the nearest amount is chosen; "a bit" / "slightly" means the smallest step, "a lot" the
   largest, no amount the default step (5 cm / 15 degrees); an amount far outside the
   vocabulary's steps ("ten meters", "1 mm") or a number without a unit it knows ("left 5",
   "3 furlongs") is not guessed: the nearest steps come back for the person to confirm;
3. otherwise it is compared with every phrase and paraphrase by character-trigram similarity;
   a weak or close call comes back with candidates for the person to confirm.

Every answer says how it was understood, so a surprising mapping is visible before it runs.
"""

from collections import Counter
from dataclasses import dataclass, field
import math
import re

DEFAULT_TRANSLATION = 0.05   # m, when no amount is said
DEFAULT_ROTATION = math.radians(15)
ACCEPT_SIMILARITY = 0.55
ACCEPT_MARGIN = 0.06

_NUMBER_WORDS = {
    'zero': 0, 'one': 1, 'a': 1, 'an': 1, 'two': 2, 'three': 3, 'four': 4, 'five': 5, 'six': 6,
    'seven': 7, 'eight': 8, 'nine': 9, 'ten': 10, 'eleven': 11, 'twelve': 12, 'fifteen': 15,
    'twenty': 20, 'thirty': 30, 'forty': 40, 'fifty': 50, 'sixty': 60, 'seventy': 70,
    'eighty': 80, 'ninety': 90, 'half': 0.5,
}
_UNITS = {  # unit word -> (kind, factor to metres / radians)
    'mm': ('length', 0.001), 'millimeter': ('length', 0.001), 'millimetre': ('length', 0.001),
    'cm': ('length', 0.01), 'centimeter': ('length', 0.01), 'centimetre': ('length', 0.01),
    'm': ('length', 1.0), 'meter': ('length', 1.0), 'metre': ('length', 1.0),
    'km': ('length', 1000.0), 'kilometer': ('length', 1000.0), 'kilometre': ('length', 1000.0),
    'inch': ('length', 0.0254), 'in': ('length', 0.0254), 'ft': ('length', 0.3048),
    'foot': ('length', 0.3048), 'feet': ('length', 0.3048), 'yard': ('length', 0.9144),
    'deg': ('angle', math.pi / 180), 'degree': ('angle', math.pi / 180),
    '°': ('angle', math.pi / 180), 'rad': ('angle', 1.0), 'radian': ('angle', 1.0),
}
# amounts beyond these multiples of the largest / smallest step are confirmed, not rounded
OUT_OF_RANGE = (0.5, 2.0)
_SMALL = ('a bit', 'a little', 'slightly', 'a tad', 'tiny', 'a touch', 'nudge', 'just a')
_LARGE = ('a lot', 'far', 'much', 'way ')
# (axis, sign) by keyword; checked in this order, first match wins
_ROTATIONS = [
    ('roll', [('right', 1), ('left', -1)]),
    ('pitch', [('down', 1), ('lower', 1), ('up', -1), ('higher', -1)]),
    ('tip', [('down', 1), ('up', -1)]),
    ('tilt', [('down', 1), ('up', -1)]),
    ('yaw', [('left', 1), ('right', -1)]),
    ('swivel', [('left', 1), ('right', -1)]),
]
_WRIST = [('counterclockwise', -1), ('counter-clockwise', -1), ('anticlockwise', -1),
          ('anti-clockwise', -1), ('clockwise', 1)]
_TRANSLATIONS = [
    ('x', 1, ('forward', 'forwards', 'ahead', 'away from me', 'further')),
    ('x', -1, ('backward', 'backwards', 'back', 'toward me', 'towards me', 'closer')),
    ('y', 1, ('left', 'leftward', 'leftwards')),
    ('y', -1, ('right', 'rightward', 'rightwards')),
    ('z', 1, ('up', 'upward', 'upwards', 'raise', 'lift', 'higher', 'ascend')),
    ('z', -1, ('down', 'downward', 'downwards', 'lower', 'descend', 'drop')),
]
_OPEN = ('open', 'release', 'let go', 'let it go', 'ungrip', 'drop it')
_CLOSE = ('close', 'grip', 'grasp', 'grab', 'squeeze', 'pinch', 'clamp', 'hold it')



def motion_words():
    """Every word the parser reads as a motion, a gripper action or an amount qualifier."""
    phrases = [w for _, _, words in _TRANSLATIONS for w in words]
    phrases += [keyword for keyword, _ in _ROTATIONS]
    phrases += [w for _, directions in _ROTATIONS for w, _ in directions]
    phrases += [w for w, _ in _WRIST]
    phrases += list(_OPEN + _CLOSE + _SMALL + _LARGE)
    return {w for phrase in phrases for w in re.findall(r'[a-z]+', phrase.lower())}

@dataclass
class Interpretation:
    primitive: object = None          # the Primitive chosen (None: not understood)
    how: str = ''                     # 'phrase' | 'parsed' | 'similar' | ''
    note: str = ''                    # what was assumed, for the person to see
    candidates: list = field(default_factory=list)  # [(Primitive, score)] when unsure

    @property
    def needs_confirmation(self):
        return self.primitive is None and bool(self.candidates)


def _words(text):
    return re.findall(r'[a-z°]+(?:-[a-z]+)?|\d+(?:\.\d+)?', text.lower())


def _has(text, phrase):
    return re.search(r'(?<![a-z])' + re.escape(phrase) + r'(?![a-z])', text) is not None


def parse_amount(text):
    """(kind, value, qualifier 'small'|'large'|None): kind 'length' (value in m) or 'angle'
    (rad); 'number' when a number came without a unit this knows (value: the bare number);
    None (value None) when no number was said."""
    t = text.lower().replace('°', ' ° ')
    qualifier = ('small' if any(q in t for q in _SMALL) else
                 'large' if any(_has(t, q.strip()) for q in _LARGE) else None)
    words = _words(t)
    bare = None
    for i, w in enumerate(words):
        value = None
        if re.fullmatch(r'\d+(?:\.\d+)?', w):
            value = float(w)
        elif w in _NUMBER_WORDS and w not in ('a', 'an'):
            value = float(_NUMBER_WORDS[w])
        elif '-' in w and all(p in _NUMBER_WORDS for p in w.split('-')):
            value = float(sum(_NUMBER_WORDS[p] for p in w.split('-')))
        if value is None:
            continue
        j = i + 1
        if value >= 20 and j < len(words) and words[j] in _NUMBER_WORDS and \
                _NUMBER_WORDS[words[j]] < 10:           # "forty five"
            value += _NUMBER_WORDS[words[j]]
            j += 1
        if j < len(words):
            w = words[j]
            unit = next((u for u in (w, w[:-1] if w.endswith('s') else None,
                                     w[:-2] if w.endswith('es') else None) if u in _UNITS), None)
            if unit is not None and not (unit == 'in' and j + 1 < len(words)):
                kind, factor = _UNITS[unit]
                return kind, value * factor, qualifier
        if bare is None:
            bare = value
    if bare is not None:
        return 'number', bare, qualifier
    return None, None, qualifier


def parse_motion(text):
    """(axis, sign) named by the sentence, or None."""
    t = ' '.join(_words(text))
    if any(_has(t, w) for w in _CLOSE):
        return 'gripper', -1
    if any(_has(t, w) for w in _OPEN):
        return 'gripper', 1
    for word, directions in _ROTATIONS:
        if _has(t, word):
            for direction, sign in directions:
                if _has(t, direction):
                    return word if word in ('roll', 'pitch', 'yaw') else {
                        'tip': 'pitch', 'tilt': 'pitch', 'swivel': 'yaw'}[word], sign
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
    """Maps sentences to primitives of ``vocab`` (see the module docstring)."""

    def __init__(self, vocab):
        self.vocab = vocab
        self._texts = [(p, _trigrams(text)) for p in vocab for text in p.texts]

    def similar(self, sentence, k=3):
        """[(Primitive, similarity)] best first, one entry per primitive."""
        grams = _trigrams(sentence)
        best = {}
        for p, g in self._texts:
            s = _cosine(grams, g)
            if s > best.get(p.index, (None, -1))[1]:
                best[p.index] = (p, s)
        return sorted(best.values(), key=lambda e: -e[1])[:k]

    def interpret(self, sentence):
        text = ' '.join(str(sentence).split())
        if not text:
            return Interpretation(note='nothing was said')
        exact = self.vocab.lookup(text)
        if exact is not None:
            return Interpretation(exact, 'phrase')
        motion = parse_motion(text)
        if motion is not None:
            return self._from_motion(text, *motion)
        ranked = self.similar(text)
        if ranked and ranked[0][1] >= ACCEPT_SIMILARITY and (
                len(ranked) == 1 or ranked[0][1] - ranked[1][1] >= ACCEPT_MARGIN):
            return Interpretation(ranked[0][0], 'similar',
                                  f'closest to "{ranked[0][0].phrase}" '
                                  f'(similarity {ranked[0][1]:.2f})')
        return Interpretation(note=f'not sure what "{text}" means', candidates=ranked)

    def _from_motion(self, text, axis, sign):
        options = [p for p in self.vocab if p.axis == axis and math.copysign(1, p.value) == sign]
        if not options:
            return Interpretation(note=f'the vocabulary has no primitive for {axis} {sign:+d}')
        if axis == 'gripper':
            return Interpretation(options[0], 'parsed')
        kind, value, qualifier = parse_amount(text)
        rotation = axis not in ('x', 'y', 'z')
        unit = 'deg' if rotation else 'cm'
        scale = 180 / math.pi if rotation else 100
        note = ''
        if kind == 'number':  # "left 5": centimetres? millimetres? ask
            ranked = sorted(options, key=lambda p: abs(math.log(p.magnitude * scale /
                                                                max(value, 1e-9))))
            return Interpretation(note=f'"{text}": {value:g} of which unit?',
                                  candidates=[(p, 0.0) for p in ranked[:3]])
        if kind is not None and (kind == 'angle') != rotation:
            return Interpretation(note=f'"{text}": a {kind} does not fit a '
                                       f'{"rotation" if rotation else "translation"}',
                                  candidates=[(p, 0.0) for p in options[:3]])
        magnitudes = sorted(options, key=lambda p: p.magnitude)
        if value is None:
            if qualifier == 'small':
                return Interpretation(magnitudes[0], 'parsed', 'smallest step')
            if qualifier == 'large':
                return Interpretation(magnitudes[-1], 'parsed', 'largest step')
            value = DEFAULT_ROTATION if rotation else DEFAULT_TRANSLATION
            note = 'no amount said: default step'
        if value <= 0:
            return Interpretation(note=f'"{text}": the amount must be positive')
        chosen = min(options, key=lambda p: abs(math.log(p.magnitude / value)))
        low, high = magnitudes[0].magnitude, magnitudes[-1].magnitude
        if value > OUT_OF_RANGE[1] * high or value < OUT_OF_RANGE[0] * low:
            bound = 'more than the largest' if value > high else 'less than the smallest'
            return Interpretation(note=f'{value * scale:g} {unit} is far {bound} step of the '
                                       f'vocabulary ({chosen.magnitude * scale:g} {unit})',
                                  candidates=[(chosen, 0.0)])
        if not note and abs(chosen.magnitude - value) > 0.25 * value:
            note = (f'{value * scale:g} {unit} is not a step of the vocabulary; nearest: '
                    f'{chosen.magnitude * scale:g} {unit}')
        return Interpretation(chosen, 'parsed', note)
