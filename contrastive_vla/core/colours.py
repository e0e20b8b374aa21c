"""Colour words a policy never saw, read as the colour it knows that they name.

A policy learns the colour words of its training instructions (the simulator's six: red,
green, blue, yellow, purple, orange) and nothing else: "push the crimson block" means nothing
to a text tower that never met "crimson", and an off-the-shelf sentence encoder does not fix
that (all-MiniLM-L6-v2 puts 3-5 of 12 common synonyms nearest the right colour,
``scripts/colour_synonyms.py``). What people mean by a colour word is measured, though: the
XKCD colour survey (949 names, each the colour that about 200,000 people agreed on; shipped
with matplotlib as ``matplotlib.colors.XKCD_COLORS``). So a colour name the policy does not
know is read as the known colour nearest to it in OKLab, a perceptual colour space, when that
is clear:

- the phrase (one to three words: "crimson", "sky blue", "dark forest green") is a name in the
  survey, is not itself a known colour word, and is followed by another word that is not a
  function word ("the crimson block", "the crimson one"; not "put it in the sea" or "grab the
  apple"), so nouns that happen to be colour names are left alone;
- the colour is chromatic (OKLab chroma >= ``MIN_CHROMA``: grey, black, white, beige are not
  read as any of the six), within ``MAX_DISTANCE`` of the nearest known colour, and clearly
  nearer to it than to the second nearest (distance ratio <= ``MAX_RATIO``: navy, between blue
  and purple, is not guessed);
- lightness counts half in the distance (``LIGHTNESS_WEIGHT``): people name colours by hue
  more than by lightness ("sky blue" is blue, "maroon" red-ish).

A phrase that names a colour but is not read (unclear) is reported, so a node can warn that
the policy will not understand it. The thresholds were set by looking at about forty names
(the twelve synonyms of ``scripts/colour_synonyms.py`` among them) against the six colours; they
are not fitted to any evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import functools
import re

import numpy as np
from numpy.typing import ArrayLike, NDArray

LIGHTNESS_WEIGHT = 0.5
MAX_DISTANCE = 0.2
MAX_RATIO = 0.85
MIN_CHROMA = 0.05
MAX_PHRASE_WORDS = 3
# words after which a colour name is a noun, not a colour said of the next word
_FUNCTION_WORDS = frozenset(
    'the a an to in into on onto of and or with at by from for it its then please so but '
    'is are be as that this there here up down'.split())
# survey names that are modifiers, never a colour on their own
_MODIFIERS = frozenset({'dark', 'pale', 'light', 'bright', 'deep'})
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?", re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def survey() -> dict[str, tuple[float, float, float]]:
    """Colour name (lower case, words separated by one space) -> sRGB in [0, 1]: the XKCD
    colour survey's names, as matplotlib ships them."""
    from matplotlib.colors import XKCD_COLORS, to_rgb  # deferred: only readers need it

    names = {}
    for key, hex_colour in XKCD_COLORS.items():
        name = ' '.join(_WORD.findall(key.removeprefix('xkcd:').replace('/', ' ')))
        if name and name not in _MODIFIERS:
            names.setdefault(name, to_rgb(hex_colour))
    return names


def oklab(rgb: ArrayLike) -> NDArray[np.float64]:
    """sRGB in [0, 1] (..., 3) -> OKLab (..., 3): lightness, green-red, blue-yellow."""
    c = np.asarray(rgb, dtype=np.float64)
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lms = np.cbrt(linear @ np.array([[0.4122214708, 0.2119034982, 0.0883024619],
                                     [0.5363325363, 0.6806995451, 0.2817188376],
                                     [0.0514459929, 0.1073969566, 0.6299787005]]))
    return lms @ np.array([[0.2104542553, 1.9779984951, 0.0259040371],
                           [0.7936177850, -2.4285922050, 0.7827717662],
                           [-0.0040720468, 0.4505937099, -0.8086757660]])


def said_colours(text: str) -> list[tuple[str, int, int]]:
    """The colour names said in ``text``: (phrase, start, end) for each survey name (the
    longest of one to three words) followed by another word that is not a function word,
    in order; ``text[start:end]`` is the phrase as written."""
    names = survey()
    # offsets into the text as written (lower-casing can change a text's length)
    words = [(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text)]
    found, i = [], 0
    while i < len(words):
        for n in range(min(MAX_PHRASE_WORDS, len(words) - i), 0, -1):
            phrase = ' '.join(w for w, _, _ in words[i:i + n])
            if phrase in names:
                break
        else:
            i += 1
            continue
        following = words[i + n][0] if i + n < len(words) else None
        if following is not None and following not in _FUNCTION_WORDS:
            found.append((phrase, words[i][1], words[i + n - 1][2]))
        i += n
    return found


def colour_words_in(texts: Iterable[str]) -> list[str]:
    """The colour names of one word said in ``texts`` (:func:`said_colours`), sorted: what a
    policy trained on them knows. "Put the apple in the bowl" adds nothing."""
    return sorted({phrase for text in texts for phrase, _, _ in said_colours(str(text))
                   if ' ' not in phrase})


@dataclass(frozen=True)
class ColourReading:
    """An instruction with its unknown colour names replaced by known ones.

    ``swaps``: (phrase as said, known colour word) for each replacement, in order;
    ``unclear``: colour names said that were left as they were, with why."""
    text: str
    swaps: tuple = ()
    unclear: tuple = ()

    def describe(self) -> str:
        """One line for a log: what was read how, or '' when nothing was."""
        parts = [f'read {said!r} as {known!r}' for said, known in self.swaps]
        parts += [f'{said!r} {why}' for said, why in self.unclear]
        return '; '.join(parts)


class ColourWords:
    """Reads colour names outside ``known`` (the colour words a policy was trained with) as
    the known colour they name, when that is clear (see the module's docstring)."""

    def __init__(self, known: Iterable[str]) -> None:
        names = survey()
        self.known = tuple(sorted({str(k).lower() for k in known} & set(names)))
        self._known_set = frozenset(self.known)
        self._points = (self._scaled(np.array([names[k] for k in self.known]))
                        if self.known else np.zeros((0, 3)))

    @staticmethod
    def _scaled(rgb: ArrayLike) -> NDArray[np.float64]:
        lab = oklab(rgb)
        return lab * np.array([LIGHTNESS_WEIGHT, 1.0, 1.0])

    def nearest(self, name: str) -> tuple[str | None, str | None]:
        """(known colour word or None, reason when None) for survey name ``name``."""
        rgb = survey()[name]
        lab = oklab(rgb)
        if float(np.hypot(lab[1], lab[2])) < MIN_CHROMA:
            return None, 'is a grey, not one of the colours the policy knows'
        if len(self.known) < 1:
            return None, 'cannot be read: the policy knows no colour words'
        d = np.linalg.norm(self._points - self._scaled(rgb), axis=1)
        order = np.argsort(d)
        best = self.known[order[0]]
        if d[order[0]] > MAX_DISTANCE:
            return None, f'is not near any colour the policy knows ({", ".join(self.known)})'
        if len(order) > 1 and d[order[0]] > MAX_RATIO * d[order[1]]:
            return None, (f'lies between {best!r} and {self.known[order[1]]!r}; '
                          'name one of them')
        return best, None

    def read(self, text: str) -> ColourReading:
        """``text`` with each clear unknown colour name replaced: a :class:`ColourReading`."""
        if not self.known:
            return ColourReading(text)
        pieces, swaps, unclear, cursor = [], [], [], 0
        for phrase, start, end in said_colours(text):
            if phrase in self._known_set:
                continue
            known, why = self.nearest(phrase)
            if known is None:
                unclear.append((text[start:end], why))
            else:
                pieces.append(text[cursor:start] + known)
                cursor = end
                swaps.append((text[start:end], known))
        pieces.append(text[cursor:])
        return ColourReading(''.join(pieces), tuple(swaps), tuple(unclear))
