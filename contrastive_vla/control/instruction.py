"""What the instruction listener does to a sentence: recognise a stop, validate, normalise.

**Stop first.** Before any other check the sentence is read for stop intent: its first
``STOP_SCAN_CHARS`` characters, escape sequences and control characters removed, NFKC
normalised and casefolded, apostrophes dropped ("don't" reads "dont"); hyphens and other
punctuation separate words ("E-STOP!" reads "e stop"). It is cut into clauses at ``, ; : . ! ?``
and dashes. The sentence is a stop when a clause

* of at most ``SHORT_CLAUSE_WORDS`` (6) words holds a stop word or phrase anywhere ("please
  stop", "no, stop!", "I told you to stop", "don't move", "hold on", "kill it"), or
* of more words has one starting within its first ``LEAD_WORDS`` (3) words ("please stop
  moving the arm towards the red block").

Stop words and phrases match whole words ("stopping" is not "stop"), so "move to the left
without stopping" and "put the block at the bus stop" (7 words, "stop" not in the first 3)
stay tasks. "don't stop" is ambiguous and reads as a stop: erring toward halting is the safe
side. A stop is not validated further: "STOP\\x07", a coloured "halt" or a 5,000-character
"stop ..." halts; its ``text`` is the printable part, cut to ``max_chars``.

**Everything else** is checked by the rules the model applies (``clean_instruction``: UTF-8
text, no control characters, not empty, not longer than the limit) and normalised (whitespace
collapsed). It is a *release* (``is_release``) when it has at most ``RELEASE_MAX_WORDS`` (4)
words, one of them a release word or phrase ("continue", "resume", "go on", "carry on") and
none a negation ("don't continue"). It is a *task* (``is_task``) when it holds a word of the
task domain (``TASK_WORDS``: a motion verb, an object, a direction). "wait" and "abort" are
stops; "no no no", "hmm", "ok" are neither a task nor a release.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import re
import unicodedata

from contrastive_vla.core.text import InputError, clean_instruction

DEFAULT_STOP_WORDS = ('stop', 'halt', 'freeze', 'abort', 'cease', 'estop', 'e stop',
                      'emergency', 'kill', 'wait', 'pause', "don't move", 'do not move',
                      'hold on', 'hold still', 'stand still', 'stay still')
DEFAULT_RELEASE_WORDS = ('continue', 'resume', 'go on', 'carry on', 'go ahead', 'proceed')
STOP_SCAN_CHARS = 1000     # the stop check reads this much of an over-long message
SHORT_CLAUSE_WORDS = 6     # a clause this short is a stop with a stop word anywhere in it
LEAD_WORDS = 3             # a longer clause: a stop word must start within these first words
RELEASE_MAX_WORDS = 4
NEGATIONS = frozenset({'no', 'not', 'dont', 'never', 'nope', 'cant', 'cannot', 'wont'})
TASK_WORDS = frozenset("""
    reach move push shove slide nudge pull drag lift raise lower grab grasp grip pick place put
    drop carry stack pile build take hover touch bring fetch get lay insert rotate turn twist
    tilt open close position align
    block cube object gripper hand finger arm tower zone square area target table base
    left right forward backward back up down above over under below top bottom higher
    leftward rightward toward towards away closer further
""".split())

# CSI (ESC [ ... or 0x9b ...), OSC (ESC ] ... BEL or ESC \), then any other ESC sequence
_ESCAPES = re.compile(r'\x1b\[[0-?]*[ -/]*[@-~]?|\x9b[0-?]*[ -/]*[@-~]?'
                      r'|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?')
_APOSTROPHES = re.compile("['`\u2018\u2019\u02bc]")
_CLAUSE_BREAK = re.compile('[,;:.!?()\\[\\]{}"\u2013\u2014\u2026]+')
_WORD = re.compile(r'[^\W_]+', re.UNICODE)


class InstructionError(ValueError):
    """The sentence cannot become the active instruction; the message says why."""


@dataclass(frozen=True)
class Instruction:
    text: str
    is_stop: bool
    is_task: bool = False     # holds a task word: may replace the active instruction
    is_release: bool = False  # an explicit release ("continue"): lifts this listener's stop


def _printable(text: str) -> str:
    """``text`` without escape sequences; control characters become spaces, format
    characters (zero-width) go."""
    text = _ESCAPES.sub(' ', text)
    return ''.join(' ' if unicodedata.category(ch) == 'Cc' else
                   '' if unicodedata.category(ch) == 'Cf' else ch for ch in text)


def _normalise(text: str) -> str:
    return _APOSTROPHES.sub('', unicodedata.normalize('NFKC', _printable(text)).casefold())


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(_normalise(text)))


def phrases(words: Iterable[str], what: str = 'stop_words') -> tuple[tuple[str, ...], ...]:
    """Stop (or release) words and phrases as normalised word tuples. Raises ValueError when
    none is left for ``stop_words``: an empty list would disable stopping."""
    if isinstance(words, str):
        words = [words]
    out = tuple(dict.fromkeys(p for p in (_words(w) for w in words if isinstance(w, str)) if p))
    if not out and what == 'stop_words':
        raise ValueError(f'{what} {list(words)!r} has no stop word: stopping would be disabled')
    return out


def _starts_at(words: tuple[str, ...], phrase: tuple[str, ...], limit: int) -> bool:
    n = len(phrase)
    return any(words[i:i + n] == phrase for i in range(min(limit, len(words) - n + 1)))


def _scan_text(text: object) -> str:
    if isinstance(text, bytes):
        return text[:4 * STOP_SCAN_CHARS].decode('utf-8', errors='replace')[:STOP_SCAN_CHARS]
    return text[:STOP_SCAN_CHARS] if isinstance(text, str) else ''


def _is_stop(scanned: str, stops: tuple[tuple[str, ...], ...]) -> bool:
    for clause in _CLAUSE_BREAK.split(_normalise(scanned)):
        words = tuple(_WORD.findall(clause))
        limit = len(words) if len(words) <= SHORT_CLAUSE_WORDS else LEAD_WORDS
        if any(_starts_at(words, phrase, limit) for phrase in stops):
            return True
    return False


def stop_intent(text: str | bytes, stop_words: Iterable[str] = DEFAULT_STOP_WORDS) -> bool:
    """Whether ``text`` reads as a stop (the rule in the module docstring); never raises for
    the text, whatever it holds."""
    return _is_stop(_scan_text(text), phrases(stop_words))


def _is_task_word(word: str) -> bool:
    forms = {word, word[:-1], word[:-2], word[:-3], word[:-3] + 'e', word[:-2] + 'e'}
    return word in TASK_WORDS or (len(word) > 3 and bool(forms & TASK_WORDS))


def interpret(text: str | bytes, stop_words: Iterable[str] = DEFAULT_STOP_WORDS,
              max_chars: int = 300,
              release_words: Iterable[str] = DEFAULT_RELEASE_WORDS) -> Instruction:
    """Return an Instruction or raise InstructionError naming the problem. A stop is
    recognised before any validation; ValueError when ``stop_words`` would disable stopping."""
    scanned = _scan_text(text)
    if _is_stop(scanned, phrases(stop_words)):
        return Instruction(' '.join(_printable(scanned).split())[:max_chars], True)
    try:
        clean = clean_instruction(text, max_chars)
    except InputError as exc:
        raise InstructionError(str(exc)) from None
    words = _words(clean)
    if not words:
        raise InstructionError(f'instruction {clean[:40]!r} has no words')
    release = (len(words) <= RELEASE_MAX_WORDS and not NEGATIONS.intersection(words)
               and any(_starts_at(words, p, len(words))
                       for p in phrases(release_words, 'release_words')))
    return Instruction(clean, False, is_task=any(_is_task_word(w) for w in words),
                       is_release=release)
