"""The CLIP-RT model with the tiny config: learning, checkpoints, caches, loss, bad input."""

import json
import math
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.model.clip_rt import ClipRT
from contrastive_vla.model.config import ConfigError, ModelConfig
from contrastive_vla.model.policy import CheckpointError, ClipRTPolicy, load_model, save_checkpoint
from contrastive_vla.model.preprocess import InputError
from contrastive_vla.training.config import TrainingConfig
from contrastive_vla.training.train import Trainer

TINY = ModelConfig.load('clip_rt_tiny')


def tiny_dataset(n=64, seed=0, size=32):
    """A learnable toy problem: the label is set by where a bright square is in the image."""
    from contrastive_vla.data.dataset import DemoDataset

    rng = np.random.default_rng(seed)
    images = np.zeros((n, size, size, 3), dtype=np.uint8)
    labels = rng.integers(0, 2, size=n)
    for i, label in enumerate(labels):
        x = 4 if label == 0 else size - 12
        images[i, 10:18, x:x + 8] = 255
    classes = np.array([2, 10])  # two primitives of the vocabulary
    return DemoDataset(images=images, labels=classes[labels],
                       instructions=['reach the red block'] * n, supervisions=[None] * n,
                       episode_index=np.arange(n) % 8, step_index=np.zeros(n, int),
                       episodes=[f'ep{i}' for i in range(8)])


def training_config(out, **overrides):
    """A TrainingConfig for a Trainer built by hand (no closed-loop check)."""
    return TrainingConfig(out=out, eval_tasks='none', **overrides)


@pytest.fixture(scope='module')
def vocab():
    return PrimitiveVocabulary.load()


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return ClipRT(TINY)


def test_a_few_training_steps_reduce_the_loss(model, vocab, tmp_path):
    data = tiny_dataset()
    trainer = Trainer(model, vocab, data, data.subset(np.zeros(len(data), bool)),
                      training_config(tmp_path, batch_size=32, lr=3e-3, augment_images=False))
    torch.manual_seed(0)
    before, after = _train_steps(trainer, data, 30)
    assert after < before * 0.7


def _train_steps(trainer, data, steps, batch=32):
    """(loss before, loss after) ``steps`` optimizer steps on the first ``batch`` samples."""
    idx = np.arange(batch)
    before = trainer.loss(trainer.batches.make(idx, data))[0].item()
    for _ in range(steps):
        loss, _ = trainer.loss(trainer.batches.make(idx, data))
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
    return before, trainer.loss(trainer.batches.make(idx, data))[0].item()


def test_bce_loss_matches_a_hand_computed_example(model, vocab, tmp_path):
    data = tiny_dataset(n=4)
    data.labels[:] = [2, 10, 2, 10]
    trainer = Trainer(model, vocab, data, data.subset(np.zeros(4, bool)),
                      training_config(tmp_path, loss='bce', augment_images=False))
    torch.manual_seed(0)
    trainer.batches.rng = np.random.default_rng(5)
    loss, _ = trainer.loss(trainer.batches.make(np.arange(4), data))
    # by hand: same sampled texts, logits = scale * cos + bias, targets = same class
    trainer.batches.rng = np.random.default_rng(5)
    text_tokens = trainer.batches._class_texts([2, 10, 2, 10])
    from contrastive_vla.model.preprocess import images_to_tensor

    instr = model.encode_text(trainer.batches.prompt_tokens[[0]])[[0, 0, 0, 0]]
    context = model.encode_context(images_to_tensor(data.images), instr)
    text = F.normalize(model.encode_text(text_tokens), dim=-1)
    logits = math.exp(model.logit_scale.item()) * context @ text.T + model.logit_bias.item()
    target = torch.tensor([[1., 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1]])
    p = torch.sigmoid(logits)
    expected = -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4)


def test_ce_loss_is_cross_entropy_over_the_vocabulary(model, vocab, tmp_path):
    data = tiny_dataset(n=8)
    trainer = Trainer(model, vocab, data, data.subset(np.zeros(8, bool)),
                      training_config(tmp_path, augment_images=False))
    loss, logits = trainer.loss(trainer.batches.make(np.arange(8), data))
    assert logits.shape == (8, len(vocab))
    by_hand = -torch.log_softmax(logits, dim=1)[torch.arange(8), torch.from_numpy(
        data.labels)].mean()
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-5)


def test_save_then_load_gives_identical_scores(model, vocab, tmp_path):
    policy = ClipRTPolicy(model, vocab)
    image = tiny_dataset(n=1).images[0]
    before = policy.scores(image, 'reach the red block')
    save_checkpoint(tmp_path / 'ckpt', model, vocab, meta={'note': 'test'})
    loaded = ClipRTPolicy.load(tmp_path / 'ckpt')
    np.testing.assert_allclose(loaded.scores(image, 'reach the red block'), before, rtol=1e-5,
                               atol=1e-5)
    assert loaded.meta['note'] == 'test'


def test_colour_names_it_never_saw_are_read_as_the_ones_it_knows(model, vocab, tmp_path):
    save_checkpoint(tmp_path / 'ckpt', model, vocab,
                    meta={'colour_words': ['red', 'green', 'blue']})
    policy = ClipRTPolicy.load(tmp_path / 'ckpt', use_cache=False)
    assert policy.read_instruction('reach  the crimson block').text == 'reach the red block'
    said = policy.instruction_encoding('reach the crimson block').pooled
    torch.testing.assert_close(said, policy.instruction_encoding('reach the red block').pooled)
    # a checkpoint that does not record its colour words reads the words as they are
    plain = ClipRTPolicy(model, vocab, use_cache=False)
    assert plain.read_instruction('reach the crimson block').text == 'reach the crimson block'
    assert not torch.allclose(plain.instruction_encoding('reach the crimson block').pooled,
                              said)


def test_caches_give_the_same_ranking_as_uncached(model, vocab):
    cached = ClipRTPolicy(model, vocab, use_cache=True)
    uncached = ClipRTPolicy(model, vocab, use_cache=False)
    image = tiny_dataset(n=1, seed=3).images[0]
    for instruction in ('reach the red block', 'stack the blue block on the green block',
                        'reach the red block'):
        a = cached.scores(image, instruction)
        b = uncached.scores(image, instruction)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        assert [p.name for p, _ in cached.rank(image, instruction, 5)] == \
            [p.name for p, _ in uncached.rank(image, instruction, 5)]
    assert len(cached._instruction_cache) == 2


def test_warm_up_decides_on_a_blank_frame_with_or_without_the_robot_state(vocab):
    torch.manual_seed(0)
    for cfg in (TINY, ModelConfig(**{**TINY.to_dict(), 'name': 'tiny_gripper',
                                     'state_joints': ['left_finger_joint',
                                                      'right_finger_joint']})):
        policy = ClipRTPolicy(ClipRT(cfg), vocab)
        took = policy.warm_up(image_shape=(48, 64), passes=3)
        assert len(took) == 3 and all(ms > 0 for ms in took)
        # it went through a real decision: the warm-up instruction is encoded and cached
        assert list(policy._instruction_cache) == ['move the arm up']


def test_any_image_size_is_resized_and_bad_images_rejected(model, vocab):
    policy = ClipRTPolicy(model, vocab)
    for shape in ((480, 640, 3), (224, 224, 3), (17, 33, 3)):
        assert policy.scores(np.zeros(shape, np.uint8), 'go').shape == (len(vocab),)
    for bad, message in ((np.zeros((32, 32), np.uint8), 'H x W x 3'),
                         (np.zeros((32, 32, 4), np.uint8), 'H x W x 3'),
                         (np.zeros((32, 32, 3), np.float32), 'uint8'),
                         (np.zeros((4, 4, 3), np.uint8), 'too small'),
                         ('not an image', 'numpy array')):
        with pytest.raises(InputError, match=message):
            policy.scores(bad, 'go')


@pytest.mark.parametrize('instruction, message', [
    ('', 'empty'), ('   \n ', 'empty'), ('x' * 10_000, 'limit'), (42, 'text'),
    (b'\xff\xfe', 'UTF-8'), ('stop\x00now', 'control characters')])
def test_bad_instructions_are_rejected(model, vocab, instruction, message):
    policy = ClipRTPolicy(model, vocab)
    with pytest.raises(InputError, match=message):
        policy.scores(np.zeros((32, 32, 3), np.uint8), instruction)


def test_truncated_checkpoint_is_a_clear_error(model, vocab, tmp_path):
    path = save_checkpoint(tmp_path / 'ckpt', model, vocab)
    weights = path / 'model.safetensors'
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match='truncated or corrupt'):
        load_model(path)


def test_checkpoint_of_another_architecture_is_a_clear_error(model, vocab, tmp_path):
    path = save_checkpoint(tmp_path / 'ckpt', model, vocab)
    cfg = TINY.to_dict()
    cfg['embed_dim'] = 48
    (path / 'config.json').write_text(ModelConfig(**cfg).to_json())
    with pytest.raises(CheckpointError, match='do not match the architecture'):
        load_model(path)


def test_checkpoint_with_another_vocabulary_is_a_clear_error(model, vocab, tmp_path):
    path = save_checkpoint(tmp_path / 'ckpt', model, vocab)
    other = vocab.to_dict()
    other['primitives'] = other['primitives'][:-1]
    with pytest.raises(CheckpointError, match='another vocabulary'):
        ClipRTPolicy.load(path, vocabulary=PrimitiveVocabulary.from_dict(other))
    import yaml

    (path / 'vocabulary.yaml').write_text(yaml.safe_dump(other))
    with pytest.raises(CheckpointError, match='changed after training'):
        load_model(path)


def test_missing_checkpoint_files(tmp_path):
    with pytest.raises(CheckpointError, match='no such checkpoint'):
        load_model(tmp_path / 'nope')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(CheckpointError, match='missing config.json'):
        load_model(tmp_path / 'empty')


def test_checkpoint_never_unpickles(model, vocab, tmp_path):
    """A pickle bomb in place of the weights is refused, not executed."""
    import pickle

    path = save_checkpoint(tmp_path / 'ckpt', model, vocab)

    class Bomb:
        def __reduce__(self):
            return (shutil.rmtree, (str(tmp_path / 'victim'),))

    (tmp_path / 'victim').mkdir()
    (path / 'model.safetensors').write_bytes(pickle.dumps(Bomb()))
    with pytest.raises(CheckpointError):
        load_model(path)
    assert (tmp_path / 'victim').exists()


@pytest.mark.parametrize('change, message', [
    ({'fusion': 'telepathy'}, 'fusion must be one of'),
    ({'head': 'guess'}, 'head must be one of'),
    ({'prompt': 'no placeholder'}, 'must contain'),
    ({'vision': {'type': 'open_clip', 'model': 'ViT-B-32'}}, 'needs the film_cnn'),
    ({'image_size': 5}, 'image_size'),
    ({'vision': {'type': 'film_cnn', 'channels': [8], 'pool': 'max'}}, 'vision.pool'),
    ({'vision': {'type': 'film_cnn', 'channels': [8], 'convs_per_stage': 0}}, 'convs_per_stage'),
    ({'state_joints': ['elbow_joint', 'tail_joint']}, r"\['tail_joint'\] are not joints"),
    ({'state_joints': ['elbow_joint'], 'state_dim': 3}, 'does not match'),
    ({'token_attention': True, 'fusion': 'additive'}, 'token_attention needs'),
])
def test_bad_model_configs(change, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**{**TINY.to_dict(), **change})


def test_unknown_config_name_lists_the_available_ones():
    with pytest.raises(ConfigError, match='clip_rt_small'):
        ModelConfig.load('clip_rt_enormous')


@pytest.mark.parametrize('fusion', ['additive', 'late_mlp'])
def test_other_fusions_build_and_score(vocab, fusion):
    model = ClipRT(ModelConfig(**{**TINY.to_dict(), 'fusion': fusion}))
    policy = ClipRTPolicy(model, vocab)
    assert policy.scores(np.zeros((32, 32, 3), np.uint8), 'go').shape == (len(vocab),)


def test_keypoint_tower_learns_and_round_trips(vocab, tmp_path):
    vision = {'type': 'film_cnn', 'channels': [8, 16, 16], 'convs_per_stage': 2,
              'pool': 'spatial_softmax'}
    torch.manual_seed(0)
    model = ClipRT(ModelConfig(**{**TINY.to_dict(), 'vision': vision}))
    test_a_few_training_steps_reduce_the_loss(model, vocab, tmp_path / 'train')
    test_save_then_load_gives_identical_scores(model, vocab, tmp_path / 'save')


def test_spatial_softmax_finds_the_peak():
    from contrastive_vla.model.clip_rt import SpatialSoftmax

    features = torch.full((1, 2, 9, 9), -50.0)
    features[0, 0, 0, 8] = 50.0  # top right: x = +1, y = -1
    features[0, 1, 4, 4] = 50.0  # centre
    keypoints = SpatialSoftmax()(features).view(2, 2)
    torch.testing.assert_close(keypoints, torch.tensor([[1.0, -1.0], [0.0, 0.0]]),
                               atol=1e-4, rtol=0)


def test_regression_head_predicts_a_primitive(vocab):
    model = ClipRT(ModelConfig(**{**TINY.to_dict(), 'head': 'regress'}))
    policy = ClipRTPolicy(model, vocab)
    ranked = policy.rank(np.zeros((32, 32, 3), np.uint8), 'go', top_k=3)
    assert len(ranked) == 3 and ranked[0][1] >= ranked[1][1]


def test_proprioception_uses_the_state_and_stores_its_statistics(vocab, tmp_path):
    cfg = ModelConfig(**{**TINY.to_dict(), 'state_dim': 8})
    torch.manual_seed(0)
    model = ClipRT(cfg)
    data = tiny_dataset(n=16)
    data.states = np.random.default_rng(0).normal(2.0, 0.5, (16, 16)).astype(np.float32)
    Trainer(model, vocab, data, data.subset(np.zeros(16, bool)), training_config(tmp_path))
    np.testing.assert_allclose(model.state_mean.numpy(), data.states[:, :8].mean(0), rtol=1e-5)
    _as_if_trained(model)
    policy = ClipRTPolicy(model, vocab)
    image = data.images[0]
    with pytest.raises(InputError, match='joint positions'):
        policy.scores(image, 'go')
    with pytest.raises(InputError, match='finite'):
        policy.scores(image, 'go', [np.nan] * 8)
    a = policy.scores(image, 'go', data.states[0])
    b = policy.scores(image, 'go', data.states[1])
    assert not np.allclose(a, b)
    save_checkpoint(tmp_path / 'ckpt', model, vocab)
    loaded = ClipRTPolicy.load(tmp_path / 'ckpt')
    np.testing.assert_allclose(loaded.model.state_std.numpy(), model.state_std.numpy())
    np.testing.assert_allclose(loaded.scores(image, 'go', data.states[0]), a, atol=1e-5)


def _as_if_trained(model):
    """The conditioning layers start at zero (the state and the instruction change nothing
    before training); give them weights, as some training would."""
    torch.manual_seed(1)
    for layer in [*model.visual.films, model.visual.state_to_cond[2]]:
        torch.nn.init.normal_(layer.weight, std=0.2)


GRIPPER = ModelConfig(**{**TINY.to_dict(), 'name': 'tiny_gripper',
                         'state_joints': ['left_finger_joint', 'right_finger_joint']})


def test_state_joints_pick_the_fingers_out_of_the_robot_state(vocab, tmp_path):
    assert GRIPPER.state_dim == 2 and GRIPPER.state_indices == [6, 7]
    torch.manual_seed(0)
    model = ClipRT(GRIPPER)
    data = tiny_dataset(n=16)
    data.states = np.random.default_rng(0).normal(0.02, 0.01, (16, 16)).astype(np.float32)
    Trainer(model, vocab, data, data.subset(np.zeros(16, bool)), training_config(tmp_path))
    np.testing.assert_allclose(model.state_mean.numpy(), data.states[:, 6:8].mean(0), rtol=1e-5)
    _as_if_trained(model)
    policy = ClipRTPolicy(model, vocab)
    image, state = data.images[0], data.states[0].copy()
    base = policy.scores(image, 'go', state)
    state[:6] += 1.0  # arm joints: not seen by this model
    np.testing.assert_allclose(policy.scores(image, 'go', state), base)
    state[6] += 0.03  # a finger: seen
    assert not np.allclose(policy.scores(image, 'go', state), base)
    with pytest.raises(InputError, match=r'entries \[6, 7\]'):
        policy.scores(image, 'go', state[:6])


def test_warm_start_adds_the_state_and_keeps_what_was_learned(model, vocab, tmp_path):
    save_checkpoint(tmp_path / 'plain', model, vocab)
    before = ClipRTPolicy(model, vocab).scores(np.full((32, 32, 3), 90, np.uint8), 'go')
    grown, _, _ = load_model(tmp_path / 'plain', extend_to=GRIPPER)
    assert grown.cfg.state_dim == 2
    assert 'state_mean' in grown.new_parameters
    assert any(k.startswith('visual.state_to_cond') for k in grown.new_parameters)
    after = ClipRTPolicy(grown, vocab).scores(np.full((32, 32, 3), 90, np.uint8), 'go',
                                              np.full(8, 0.02))
    np.testing.assert_allclose(after, before, atol=1e-5)  # the new path starts at zero
    other = ModelConfig(**{**TINY.to_dict(), 'embed_dim': TINY.embed_dim * 2})
    with pytest.raises(CheckpointError, match='wrong shape'):
        load_model(tmp_path / 'plain', extend_to=other)


TOKENS = ModelConfig(**{**GRIPPER.to_dict(), 'name': 'tiny_tokens', 'token_attention': True})


def zone_colour_dataset(n=64):
    """The label is set by the last word alone (the zone's colour): a model must read the
    instruction's tokens to learn it."""
    data = tiny_dataset(n=n)
    words = np.random.default_rng(1).integers(0, 2, n)
    data.instructions = [f'put the red block in the {("blue", "green")[w]} zone' for w in words]
    data.labels = np.array([2, 10])[words]
    data.states = np.full((n, 16), 0.02, np.float32)
    return data


def test_token_attention_warm_starts_learns_and_round_trips(vocab, tmp_path):
    torch.manual_seed(0)
    plain = ClipRT(GRIPPER)
    _as_if_trained(plain)
    save_checkpoint(tmp_path / 'plain', plain, vocab)
    image, state = np.full((32, 32, 3), 90, np.uint8), np.full(8, 0.02)
    before = ClipRTPolicy(plain, vocab).scores(image, 'put the red block in the blue zone', state)
    model, _, _ = load_model(tmp_path / 'plain', extend_to=TOKENS)
    assert any(k.startswith('token_attention.') for k in model.new_parameters)
    policy = ClipRTPolicy(model, vocab)
    np.testing.assert_allclose(  # the attention's output layer starts at zero
        policy.scores(image, 'put the red block in the blue zone', state), before, atol=1e-5)

    data = zone_colour_dataset()
    trainer = Trainer(model, vocab, data, data.subset(np.zeros(64, bool)),
                      training_config(tmp_path / 'run', batch_size=32, lr=3e-3,
                                      augment_images=False, new_lr_scale=10))
    trained, added = trainer.optimizer.param_groups
    assert (trained['scale'], added['scale']) == (1.0, 10)  # the warm start's new modules
    assert {id(p) for p in added['params']} == {id(p) for p in
                                               model.token_attention.parameters()}
    before, after = _train_steps(trainer, data, 20)
    assert after < before
    assert model.token_attention.out.weight.abs().sum() > 0  # the new path was trained
    model.eval()

    save_checkpoint(tmp_path / 'tokens', model, vocab)
    loaded = ClipRTPolicy.load(tmp_path / 'tokens')
    cached, uncached = ClipRTPolicy(model, vocab), ClipRTPolicy(model, vocab, use_cache=False)
    for text in ['put the red block in the blue zone', 'put the red block in the green zone'] * 2:
        expected = uncached.scores(image, text, state)
        np.testing.assert_allclose(loaded.scores(image, text, state), expected, atol=1e-5)
        np.testing.assert_allclose(cached.scores(image, text, state), expected, atol=1e-5)


def test_bfloat16_training_is_the_float32_loss_rounded_and_learns(model, vocab, tmp_path):
    """``--precision bfloat16``: the forward runs in bfloat16 (the loss differs from float32 by
    rounding only), the weights and their gradients stay float32, and it still learns."""
    data = tiny_dataset()
    idx = np.arange(32)
    losses = {}
    for precision in ('float32', 'bfloat16'):
        trainer = Trainer(model, vocab, data, data.subset(np.zeros(len(data), bool)),
                          training_config(tmp_path / precision, batch_size=32,
                                          augment_images=False, precision=precision))
        loss, logits = trainer.loss(trainer.batches.make(idx, data))
        assert logits.dtype == torch.float32
        losses[precision] = loss
    assert losses['bfloat16'].item() != losses['float32'].item()  # autocast did run
    assert losses['bfloat16'].item() == pytest.approx(losses['float32'].item(), rel=0.02)
    losses['bfloat16'].backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)
    model.zero_grad()
    torch.manual_seed(0)
    before, after = _train_steps(trainer, data, 30)
    assert after < before * 0.7
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_bad_precision_is_refused(tmp_path):
    with pytest.raises(ValueError, match='--precision must be one of'):
        training_config(tmp_path, precision='float16')


# ---- the pretrained sentence encoder as text tower ------------------------------------------
MINILM = ModelConfig(**{**TINY.to_dict(), 'name': 'tiny_minilm', 'prompt': '{instruction}',
                        'text': {'type': 'sentence_encoder', 'model': 'all-MiniLM-L6-v2',
                                 'context_length': 32}})


@pytest.fixture(scope='module')
def minilm_model():
    torch.manual_seed(0)
    return ClipRT(MINILM)


def test_sentence_encoder_brings_language(minilm_model):
    """The pretrained encoder, not our projection, places a new wording near the template."""
    from contrastive_vla.model.sentence_encoder import SentenceEncoderText

    tower = minilm_model.text
    assert isinstance(tower, SentenceEncoderText)
    texts = ['reach the red block', 'go to the crimson cube', 'open the gripper']
    emb = tower.sentence_embeddings(minilm_model.tokenize(texts))
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2])
    # memoised rows are the rows computed in a batch of their own
    again = tower.sentence_embeddings(minilm_model.tokenize(texts[1:2]))
    torch.testing.assert_close(again[0], emb[1])


def test_sentence_encoder_model_trains_and_saves_without_the_encoder(minilm_model, vocab,
                                                                     tmp_path):
    test_a_few_training_steps_reduce_the_loss(minilm_model, vocab, tmp_path / 'train')
    test_save_then_load_gives_identical_scores(minilm_model, vocab, tmp_path / 'save')
    from safetensors.torch import load_file

    keys = load_file(str(tmp_path / 'save' / 'ckpt' / 'model.safetensors'))
    assert not any('encoder' in k for k in keys)  # the frozen 22.7M weights are not copied
    assert all(p.requires_grad is False for p in minilm_model.text.encoder.parameters())


def test_checkpoint_from_other_encoder_weights_is_refused(minilm_model, vocab, tmp_path):
    save_checkpoint(tmp_path / 'ckpt', minilm_model, vocab)
    meta_path = tmp_path / 'ckpt' / 'meta.json'
    meta = json.loads(meta_path.read_text())
    meta['frozen_text_weights']['sha256'] = '0' * 64
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match='other all-MiniLM-L6-v2 weights'):
        load_model(tmp_path / 'ckpt')


MINILM_TOKENS = ModelConfig(**{**GRIPPER.to_dict(), 'name': 'tiny_minilm_tokens',
                               'prompt': '{instruction}', 'token_attention': True,
                               'text': {'type': 'sentence_encoder', 'model': 'all-MiniLM-L6-v2',
                                        'context_length': 32}})


def test_minilm_token_features_are_read_by_the_attention(vocab, tmp_path):
    """The frozen encoder's token features feed the token attention: a model that must read
    the zone's colour (the only word that changes) learns it, and a checkpoint of it
    round-trips with the memoised features (rows of different lengths in one batch)."""
    torch.manual_seed(0)
    model = ClipRT(MINILM_TOKENS)
    tower = model.text
    tokens = model.tokenize(['put the red block in the blue zone', 'open the gripper'])
    pooled, features = tower.encode(tokens)
    assert features.shape == (2, 32, tower.width)
    assert (features[1, (tokens[1] == 0)] == 0).all()  # padding past the short sentence
    alone_pooled, alone = tower.encode(tokens[1:])  # memoised: the rows of its own batch
    torch.testing.assert_close(alone[0], features[1])
    tower._memo.clear()
    with torch.autocast('cpu', dtype=torch.bfloat16):  # train --precision bfloat16
        fresh_pooled, fresh = tower.encode(tokens[1:])  # computed again at its own length
    assert fresh.dtype == torch.float32  # the frozen encoder stays float32 under autocast
    torch.testing.assert_close(fresh[0], features[1], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(fresh_pooled[0], pooled[1], atol=1e-5, rtol=1e-4)

    data = zone_colour_dataset()
    trainer = Trainer(model, vocab, data, data.subset(np.zeros(64, bool)),
                      training_config(tmp_path / 'run', batch_size=32, lr=3e-3,
                                      augment_images=False))
    before, after = _train_steps(trainer, data, 20)
    assert after < before
    assert model.token_attention.out.weight.abs().sum() > 0
    model.eval()
    save_checkpoint(tmp_path / 'ckpt', model, vocab)
    loaded = ClipRTPolicy.load(tmp_path / 'ckpt')
    image, state = np.full((32, 32, 3), 90, np.uint8), np.full(8, 0.02)
    reference = ClipRTPolicy(model, vocab, use_cache=False)
    for text in ['put the red block in the blue zone', 'put the red block in the green zone']:
        np.testing.assert_allclose(loaded.scores(image, text, state),
                                   reference.scores(image, text, state), atol=1e-5)
