"""Bags from real drivers: joint_states in the driver's own joint order, arm and gripper in
separate messages. They must train and score exactly like the simulator's bags (the state is
read by joint name), and a bag that lacks a joint must be refused with the joint's name."""

from pathlib import Path

import numpy as np
import pytest
import torch

from contrastive_vla.bag import BagWriter, find_bags, joint_state_msg, open_bag
from contrastive_vla.core.msgfields import stamp_to_ns
from contrastive_vla.data.dataset import TopicMap, load_demonstrations, read_episode
from contrastive_vla.data.demos import collect
from contrastive_vla.evaluation.bag_eval import evaluate_bags
from contrastive_vla.model.clip_rt import ClipRT
from contrastive_vla.model.config import ModelConfig
from contrastive_vla.model.policy import ClipRTPolicy, save_checkpoint
from contrastive_vla.robot.description import state_joint_names

NAMES = state_joint_names()
ARM, FINGERS = NAMES[:6], NAMES[6:]
# ur_robot_driver's order (alphabetical, as its joint_state_broadcaster lists them)
UR_ORDER = ['elbow_joint', 'shoulder_lift_joint', 'shoulder_pan_joint', 'wrist_1_joint',
            'wrist_2_joint', 'wrist_3_joint']
LATCHED = ('instruction', 'episode')


def rewrite(src, dst, groups, drop=()):
    """A copy of bag ``src`` whose every joint_states message is replaced by one message per
    name group of ``groups`` (names and positions permuted together), ``drop`` left out."""
    topics = TopicMap()
    latched = {getattr(topics, k) for k in LATCHED}
    with open_bag(src) as reader, BagWriter(dst) as writer:
        for info in reader.topics.values():
            writer.add_topic(info.name, info.msgtype, latched=info.name in latched)
        for m in reader.messages():
            if m.topic != topics.joint_states:
                writer.write(m.topic, m.timestamp_ns, m.msg)
                continue
            msg = m.msg
            by_name = {n: i for i, n in enumerate(msg.name)}
            for group in groups:
                group = [n for n in group if n not in drop]
                idx = [by_name[n] for n in group]
                writer.write(m.topic, m.timestamp_ns, joint_state_msg(
                    group, msg.position[idx], msg.velocity[idx], None,
                    stamp_to_ns(msg.header.stamp)))
    return dst


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    """The simulator's bags and three rewritten copies (same bag names, other folders)."""
    root = tmp_path_factory.mktemp('joint_order')
    sim = root / 'sim'
    collect(['reach_block'], 2, sim, seed=11, workers=1, image_size=(64, 64), progress=False,
            augment=False)
    out = {'sim': sim}
    for kind, groups, drop in (('ur_one', [UR_ORDER + FINGERS[::-1]], ()),
                               ('ur_split', [FINGERS[::-1], UR_ORDER], ()),
                               ('no_wrist_2', [UR_ORDER, FINGERS], ('wrist_2_joint',))):
        (root / kind).mkdir()
        for bag in find_bags([sim]):
            rewrite(bag, root / kind / Path(bag).name, groups, drop)
        out[kind] = root / kind
    return out


def test_the_rewritten_bags_really_are_in_another_order(bags):
    bag = find_bags([bags['ur_split']])[0]
    with open_bag(bag) as reader:
        first = [list(m.msg.name) for m in reader.messages('/joint_states')][:2]
    assert first == [FINGERS[::-1], UR_ORDER]
    # what reading positions by index made of them: another state
    with open_bag(find_bags([bags['sim']])[0]) as a, open_bag(
            find_bags([bags['ur_one']])[0]) as b:
        qa = next(iter(a.messages('/joint_states'))).msg.position
        qb = next(iter(b.messages('/joint_states'))).msg.position
    assert not np.allclose(qa, qb)


@pytest.mark.parametrize('kind', ['ur_one', 'ur_split'])
def test_read_episode_gives_the_same_states_in_any_joint_order(bags, vocab, kind):
    for sim_bag, other in zip(find_bags([bags['sim']]), find_bags([bags[kind]])):
        a, success_a, notes_a = read_episode(sim_bag, vocab, 32)
        b, success_b, notes_b = read_episode(other, vocab, 32)
        assert len(a['labels']) >= 3 and notes_a == [] and notes_b == []
        assert success_a == success_b
        np.testing.assert_array_equal(np.asarray(a['states']), np.asarray(b['states']))
        np.testing.assert_array_equal(np.asarray(a['images']), np.asarray(b['images']))
        assert a['labels'] == b['labels'] and a['instructions'] == b['instructions']
        states = np.asarray(a['states'])
        assert np.all(states[:, len(NAMES):] == 0) and np.any(states[:, :6] != 0)


def test_the_state_is_the_arm_description_order(bags, vocab):
    bag = find_bags([bags['ur_split']])[0]
    samples, _, _ = read_episode(bag, vocab, 32)
    with open_bag(find_bags([bags['sim']])[0]) as reader:
        first = next(iter(reader.messages('/joint_states'))).msg
    assert list(first.name) == NAMES  # the simulator publishes in this order
    np.testing.assert_allclose(samples['states'][0][:len(NAMES)], first.position, atol=1e-6)


def test_load_demonstrations_trains_on_the_same_samples(bags, vocab, tmp_path):
    a = load_demonstrations([bags['sim']], vocab, 32, cache_dir=tmp_path / 'a',
                            progress=False, workers=1)
    b = load_demonstrations([bags['ur_split']], vocab, 32, cache_dir=tmp_path / 'b',
                            progress=False, workers=1)
    assert a.episodes == b.episodes and a.skipped == b.skipped == []
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.images, b.images)


def test_a_bag_missing_a_joint_is_refused_naming_it(bags, vocab, tmp_path):
    bag = find_bags([bags['no_wrist_2']])[0]
    with pytest.raises(ValueError, match='never name joint\\(s\\) wrist_2_joint'):
        read_episode(bag, vocab, 32)
    data = load_demonstrations([bags['sim'], bags['no_wrist_2']], vocab, 32,
                               cache_dir=tmp_path / 'c', progress=False, workers=1)
    assert len(data.episodes) == 2  # only the simulator's two
    refused = [s for s in data.skipped if 'no_wrist_2' in s]
    assert len(refused) == 2 and all('wrist_2_joint' in s and 'skipped' in s for s in refused)


def test_a_step_before_any_joint_state_is_skipped_with_a_note(bags, vocab, tmp_path):
    """A recording that starts before the arm driver: no made-up (zero) state."""
    src = find_bags([bags['sim']])[0]
    dst = tmp_path / 'late'
    topics = TopicMap()
    with open_bag(src) as reader, BagWriter(dst) as writer:
        for info in reader.topics.values():
            writer.add_topic(info.name, info.msgtype,
                             latched=info.name in {topics.instruction, topics.episode})
        seen = 0
        for m in reader.messages():
            if m.topic == topics.joint_states:
                seen += 1
                if seen == 1:
                    continue
            writer.write(m.topic, m.timestamp_ns, m.msg)
    full, _, _ = read_episode(src, vocab, 32)
    late, _, notes = read_episode(dst, vocab, 32)
    assert len(late['labels']) == len(full['labels']) - 1
    assert len(notes) == 1 and 'no joint state for joint(s)' in notes[0]
    assert 'step skipped' in notes[0]


@pytest.fixture(scope='module')
def all_joints_model(tmp_path_factory, vocab):
    """A tiny checkpoint that sees all 8 joints, with conditioning weights that make the state
    matter (an untrained one starts them at zero)."""
    torch.manual_seed(0)
    cfg = ModelConfig(**{**ModelConfig.load('clip_rt_tiny').to_dict(), 'name': 'tiny_joints',
                         'state_joints': NAMES})
    model = ClipRT(cfg)
    for layer in [*model.visual.films, model.visual.state_to_cond[2]]:
        torch.nn.init.normal_(layer.weight, std=1.0)
    model.state_std.fill_(0.05)
    return save_checkpoint(tmp_path_factory.mktemp('m') / 'tiny_joints', model, vocab)


def test_eval_bag_scores_exactly_alike_in_any_joint_order(bags, vocab, all_joints_model):
    policy = ClipRTPolicy.load(all_joints_model)
    # the state matters to this model: a permuted state changes its scores
    sample, _, _ = read_episode(find_bags([bags['sim']])[0], vocab, policy.cfg.image_size)
    image, state = sample['images'][0], np.asarray(sample['states'][0])
    permuted = state.copy()
    permuted[:6] = state[[NAMES.index(n) for n in UR_ORDER]]
    instruction = sample['instructions'][0]
    assert not np.allclose(policy.scores(image, instruction, state),
                           policy.scores(image, instruction, permuted))
    results = {kind: evaluate_bags([bags[kind]], policy, progress=False)
               for kind in ('sim', 'ur_one', 'ur_split')}
    for kind in ('ur_one', 'ur_split'):
        r, ref = results[kind], results['sim']
        for key in ('steps', 'accuracy', 'top3_accuracy', 'direction_accuracy',
                    'magnitude_error', 'per_episode', 'per_instruction', 'skipped', 'partial'):
            assert r[key] == ref[key], key
        np.testing.assert_array_equal(r['confusion'], ref['confusion'])
    with pytest.raises(ValueError, match='wrist_2_joint'):
        evaluate_bags([bags['no_wrist_2']], policy, progress=False)
    mixed = evaluate_bags([bags['sim'], bags['no_wrist_2']], policy, progress=False)
    assert mixed['partial'] and mixed['episodes_scored'] == 2
    assert any('wrist_2_joint' in s for s in mixed['skipped'])
