"""Training-time instruction noise: what it inserts, what it keeps, and its limits."""

import numpy as np
import pytest

from contrastive_vla.sim.tasks import load_tasks
from contrastive_vla.training import instruction_noise as noise


@pytest.fixture(scope='module')
def fillers():
    return noise.filler_words(noise.protected_words())


def test_no_word_a_task_uses_is_ever_inserted(fillers):
    template_words = {w.strip(',.').lower() for task in load_tasks().values()
                      for t in task.templates for w in t.split() if '{' not in w}
    assert len(fillers) > 5000
    assert not template_words & set(fillers)
    for word in ('red', 'purple', 'left', 'not', 'pushing', 'placed', 'carried', 'blocks',
                 'gripper', 'the', 'counter', 'swivel'):
        assert word not in fillers
    assert 'garden' in fillers and 'hotel' in fillers  # ordinary words are


def test_rewording_keeps_the_words_in_order_and_only_adds_fillers(fillers):
    rng = np.random.default_rng(0)
    reword = noise.InstructionNoise(1.0, fillers, rng, max_insertions=2, article_drop=0.5)
    text = 'stack the red block on the blue block'
    filler_set = set(fillers)
    changed = 0
    for _ in range(200):
        out = reword(text)
        changed += out != text
        kept = [w for w in out.split() if w not in filler_set]
        assert [w for w in text.split() if w != 'the'] == [w for w in kept if w != 'the']
        assert 1 <= len(out.split()) - len(kept) <= 2
    assert changed == 200


def test_probability_zero_or_an_overlong_result_keeps_the_original(fillers):
    text = 'push the green cube left'
    off = noise.InstructionNoise(0.0, fillers, np.random.default_rng(0))
    assert all(off(text) == text for _ in range(50))
    some = noise.InstructionNoise(0.5, fillers, np.random.default_rng(0))
    outs = [some(text) for _ in range(400)]
    assert 120 < sum(o != text for o in outs) < 280
    tight = noise.InstructionNoise(1.0, fillers, np.random.default_rng(0), max_tokens=4,
                                   count_tokens=lambda t: len(t.split()))
    assert all(tight(text) == text for _ in range(50))


def test_the_model_limit_keeps_the_prompt_inside_the_context():
    from contrastive_vla.model.clip_rt import ClipRT
    from contrastive_vla.model.config import ModelConfig

    model = ClipRT(ModelConfig.load('clip_rt_tiny'))
    reword = noise.for_model(model, 1.0, np.random.default_rng(0))
    long = 'carry the red block over to the green square and let go of it there gently'
    for _ in range(50):
        out = reword(long)
        tokens = model.tokenize([model.cfg.format_prompt(out)])[0]
        assert int((tokens != 0).sum()) < model.context_length  # never truncated


@pytest.mark.parametrize('probability', [-0.1, 1.5])
def test_a_probability_outside_zero_one_is_refused(fillers, probability):
    with pytest.raises(ValueError, match='probability'):
        noise.InstructionNoise(probability, fillers, np.random.default_rng(0))


def test_variants_bound_the_wordings_and_are_the_same_for_every_draw_order(fillers):
    """--instruction-variants K: each instruction has at most K rewordings, fixed by the seed
    and the sentence (not by which samples came before), so every process and a resumed run
    see the same set; another seed gives another set."""
    texts = ['stack the red block on the blue block', 'push the green cube left']

    def wordings(seed, order_seed):
        reword = noise.InstructionNoise(1.0, fillers, np.random.default_rng(order_seed),
                                        variants=4, seed=seed)
        return {t: {reword(t) for _ in range(200)} for t in texts}

    first = wordings(seed=0, order_seed=0)
    assert all(len(first[t]) == 4 and t not in first[t] for t in texts)
    assert wordings(seed=0, order_seed=1) == first
    other = wordings(seed=1, order_seed=0)
    assert all(other[t] != first[t] for t in texts)
    filler_set = set(fillers)
    for t in texts:
        for out in first[t]:
            kept = [w for w in out.split() if w not in filler_set]
            assert [w for w in t.split() if w != 'the'] == [w for w in kept if w != 'the']
    with pytest.raises(ValueError, match='variants'):
        noise.InstructionNoise(1.0, fillers, np.random.default_rng(0), variants=-1)
