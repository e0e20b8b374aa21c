"""What the instruction listener does to a sentence: validate, normalise, recognise a stop.

A stop is any instruction whose first word is a stop word ("stop", "Halt!", "freeze right
now"): erring toward halting is the safe side. Everything else is a task instruction, checked
by the same rules the model applies (``clean_instruction``: UTF-8 text, no control characters,
not empty, not longer than the limit) and normalised (whitespace collapsed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import re

from contrastive_vla.core.text import InputError, clean_instruction

DEFAULT_STOP_WORDS = ('stop', 'halt', 'freeze')
_FIRST_WORD = re.compile(r'[^\W_]+', re.UNICODE)


class InstructionError(ValueError):
    """The sentence cannot become the active instruction; the message says why."""


@dataclass(frozen=True)
class Instruction:
    text: str
    is_stop: bool


def interpret(text: str | bytes, stop_words: Iterable[str] = DEFAULT_STOP_WORDS,
              max_chars: int = 300) -> Instruction:
    """Return an Instruction or raise InstructionError naming the problem."""
    try:
        clean = clean_instruction(text, max_chars)
    except InputError as exc:
        raise InstructionError(str(exc)) from None
    first = _FIRST_WORD.search(clean)
    if first is None:
        raise InstructionError(f'instruction {clean[:40]!r} has no words')
    stops = {w.lower() for w in stop_words}
    return Instruction(clean, first.group(0).lower() in stops)
