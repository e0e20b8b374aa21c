"""Instruction text as every consumer checks it: the listener node, the model and training."""

import unicodedata


class InputError(ValueError):
    """An image or instruction the model cannot take."""


def clean_instruction(text: str | bytes, max_chars: int = 300) -> str:
    """Validate and normalise an instruction: UTF-8 text, no control characters, not empty,
    at most ``max_chars`` characters; whitespace collapsed. Raises :class:`InputError`."""
    if isinstance(text, bytes):
        try:
            text = text.decode('utf-8')
        except UnicodeDecodeError:
            raise InputError('instruction is not valid UTF-8') from None
    if not isinstance(text, str):
        raise InputError(f'instruction must be text, got {type(text).__name__}')
    if any(unicodedata.category(ch) == 'Cc' and ch not in '\t\n\r' for ch in text):
        raise InputError('instruction contains control characters')
    text = ' '.join(text.split())
    if not text:
        raise InputError('instruction is empty')
    if len(text) > max_chars:
        raise InputError(f'instruction is {len(text)} characters long; the limit is '
                         f'{max_chars}')
    return text
