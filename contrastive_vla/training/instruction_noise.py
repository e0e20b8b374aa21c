"""Instruction noise: training-time rewording for a text tower that learns from scratch.

Trained on a few templates per task, a text tower that starts from random weights learns a
lookup table of those sentences: a person's own wording ("the red cube should end up further
left") lands somewhere no template does, and the policy does the wrong task. With noise, some
training instructions get words that carry no meaning in our data (drawn from the tokenizer's
whole-word vocabulary, so they are ordinary English words, never a template's) inserted at
random places, and some of their articles dropped. The labels stay the same, so the tower
learns that the decision rides on the words the tasks use (colours, directions, verbs), and
that the rest may be ignored.

What is never inserted: any word of the task templates (config/tasks.yaml and the user's
task files), of the primitive vocabulary's phrases, of the sentence mapper's motion words,
colour names and negations. The held-out reworded instructions (config/instructions_unseen.yaml)
are neither excluded nor targeted: the filler pool is every whole word among the tokenizer's
20,000 most frequent tokens (about 11,600 once the protected words are gone).

With a frozen pretrained text tower (all-MiniLM-L6-v2) every new sentence costs a pass of the
encoder, whose outputs are otherwise memoised: fresh rewordings in every batch (about 32 new
sentences a step at 0.5) cost as much as the rest of a training step on 2 CPU cores. With
``variants`` K, each instruction has K fixed rewordings (variant j of a sentence is drawn from
its own seed, so the set is the same in every process and after a resume) and a reworded
sample takes one of them at random: the encoder runs once per variant, then the memo answers.
"""

import re
import zlib

import numpy as np

from contrastive_vla.core import language
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.sim.tasks import load_tasks

ARTICLES = frozenset({'the', 'a', 'an'})
# words that would change what an instruction asks for; never inserted as filler
COLOUR_WORDS = frozenset(
    'red green blue yellow purple orange pink brown black white grey gray cyan magenta violet '
    'teal gold golden silver beige maroon navy olive lime indigo turquoise crimson scarlet '
    'colour color colored coloured'.split())
NEGATIONS = frozenset('not no never none nothing without dont don nor neither avoid stop '
                      'cancel undo wait except instead'.split())
DIRECTION_WORDS = frozenset(
    'left right forward forwards backward backwards back ahead behind front away toward '
    'towards closer further farther near far up down upward downward above below under over '
    'top bottom beside between next middle center centre side north south east west '
    'clockwise counterclockwise anticlockwise higher lower raise lower lift drop push pull '
    'rotate turn twist roll pitch yaw open close grip grasp release let go hold put place '
    'move stack pick take grab carry bring slide shove nudge drag reach touch'.split())
_WORD = re.compile(r'[a-z]+')


def protected_words(tasks=None, vocab=None):
    """Words that are never inserted: the task templates', the vocabulary's, motion words,
    colours and negations. ``tasks``: id -> Task (default: load_tasks()); ``vocab``: a
    PrimitiveVocabulary (default: the packaged one)."""
    # deferred: the model room imports torch, which this path alone needs
    from contrastive_vla.model.preprocess import primitive_texts

    tasks = load_tasks() if tasks is None else tasks
    vocab = PrimitiveVocabulary.load() if vocab is None else vocab
    texts = [t for task in tasks.values() for t in task.templates]
    texts += primitive_texts(vocab)[0]
    words = {w for t in texts for w in _WORD.findall(t.lower())} | language.motion_words()
    return frozenset(words | COLOUR_WORDS | NEGATIONS | DIRECTION_WORDS | ARTICLES)


def filler_words(protected, limit=20000):
    """Whole words of the CLIP tokenizer's vocabulary (its ``limit`` most frequent merges),
    alphabetic, 3-12 letters, minus ``protected``."""
    # deferred: the model room imports torch, which this path alone needs
    from contrastive_vla.model.preprocess import get_tokenizer

    encoder = get_tokenizer(77).encoder
    words = [tok[:-4] for tok, i in encoder.items()
             if i < limit and tok.endswith('</w>') and re.fullmatch(r'[a-z]{3,12}', tok[:-4])]
    return sorted(w for w in set(words) if not _inflects(w, protected))


_SUFFIXES = ('s', 'es', 'd', 'ed', 'ing', 'er', 'ers', 'est', 'ly', 'ward', 'wards')


def _inflects(word, protected):
    """``word`` is a protected word or an inflection of one ("pushing", "placed", "moves")."""
    if word in protected:
        return True
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[:-len(suffix)]
            doubled = len(stem) > 3 and stem[-1] == stem[-2]   # "dropped" -> "drop"
            if (stem in protected or stem + 'e' in protected
                    or (doubled and stem[:-1] in protected)
                    or (stem.endswith('i') and stem[:-1] + 'y' in protected)):  # carried
                return True
    return False


class InstructionNoise:
    """``noise(text)`` -> the instruction, reworded with probability ``probability``.

    A reworded instruction gets 1..``max_insertions`` filler words at random word boundaries
    and loses each article with probability ``article_drop``; if it would no longer fit in
    ``max_tokens`` tokens (``count_tokens``), the original is returned, so no word that
    matters is ever truncated away. ``variants`` > 0: each instruction is reworded in at most
    that many ways (fixed by ``seed`` and the sentence), and a reworded sample takes one of
    them at random (``rng`` picks which); 0: a fresh rewording every time.
    """

    def __init__(self, probability, fillers, rng, max_insertions=2, article_drop=0.3,
                 max_tokens=None, count_tokens=None, variants=0, seed=0):
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f'instruction noise probability must be in [0, 1], got '
                             f'{probability}')
        if probability > 0 and not fillers:
            raise ValueError('instruction noise needs filler words')
        self.probability = probability
        self.fillers = list(fillers)
        self.rng = rng
        self.max_insertions = max_insertions
        self.article_drop = article_drop
        self.max_tokens = max_tokens
        self.count_tokens = count_tokens
        if variants < 0:
            raise ValueError(f'instruction noise variants must be >= 0, got {variants}')
        self.variants = variants
        self.seed = seed
        self._bank = {}  # (text, j) -> variant j of text

    def __call__(self, text):
        if self.probability == 0 or self.rng.random() >= self.probability:
            return text
        if not self.variants:
            return self._reword(text, self.rng)
        return self.variant(text, int(self.rng.integers(self.variants)))

    def variant(self, text, j):
        """Rewording ``j`` (of ``variants``) of ``text``: the same for a seed and a sentence."""
        key = (text, j)
        if key not in self._bank:
            own = np.random.default_rng([self.seed, zlib.crc32(text.encode()), j])
            self._bank[key] = self._reword(text, own)
        return self._bank[key]

    def _reword(self, text, rng):
        words = [w for w in text.split()
                 if w.lower() not in ARTICLES or rng.random() >= self.article_drop]
        for _ in range(int(rng.integers(1, self.max_insertions + 1))):
            at = int(rng.integers(0, len(words) + 1))
            words.insert(at, self.fillers[int(rng.integers(len(self.fillers)))])
        noisy = ' '.join(words)
        if self.max_tokens and self.count_tokens and self.count_tokens(noisy) > self.max_tokens:
            return text
        return noisy


def for_model(model, probability, rng, vocab=None, tasks=None, variants=0, seed=0):
    """InstructionNoise for ``model``: fillers from the CLIP tokenizer, a length limit that
    keeps the whole prompt inside the model's context length; ``variants`` and ``seed`` as
    InstructionNoise's."""
    fillers = filler_words(protected_words(tasks, vocab)) if probability > 0 else []

    def count_tokens(instruction):
        tokens = model.tokenize([model.cfg.format_prompt(instruction)])[0]
        return int((tokens != 0).sum())

    return InstructionNoise(probability, fillers, rng, max_tokens=model.context_length - 1,
                            count_tokens=count_tokens, variants=variants, seed=seed)
