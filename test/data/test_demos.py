"""Expert demonstrations as bags, read back through the training data module."""

import json

import numpy as np
import pytest

from contrastive_vla.bag import open_bag
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.data.dataset import TopicMap, load_demonstrations
from contrastive_vla.data.demos import RELABEL_SUFFIX, collect, episode_name, episode_task


@pytest.fixture(scope='module')
def demos(tmp_path_factory):
    out = tmp_path_factory.mktemp('demos')
    summary = collect(['reach_block', 'lift_block'], 2, out, seed=7, workers=1,
                      image_size=(64, 64), progress=False)
    return out, summary


def test_collect_writes_one_bag_per_episode_with_the_project_topics(demos):
    out, summary = demos
    assert summary['episodes_written'] == 4 and summary['successes'] == 4
    assert summary['bytes_per_step'] > 64 * 64 * 3
    bag = out / episode_name('lift_block', 7)
    with open_bag(bag) as reader:
        topics = {name: (info.msgtype, info.count) for name, info in reader.topics.items()}
        steps = topics['/primitive'][1]
        assert steps > 3
        assert topics['/image_raw'] == ('sensor_msgs/msg/Image', steps + 1)
        assert topics['/camera_info'] == ('sensor_msgs/msg/CameraInfo', steps + 1)
        assert topics['/joint_states'] == ('sensor_msgs/msg/JointState', steps + 1)
        assert topics['/instruction'] == ('std_msgs/msg/String', 1)
        assert topics['/supervision'] == ('std_msgs/msg/String', steps)
        assert topics['/primitive_delta'] == ('std_msgs/msg/Float64MultiArray', steps)
        assert topics['/primitive_status'] == ('std_msgs/msg/String', steps)
        assert topics['/episode'] == ('std_msgs/msg/String', 2)
        messages = list(reader.messages())
    stamps = [m.timestamp_ns for m in messages]
    assert stamps == sorted(stamps)
    image = next(m.msg for m in messages if m.topic == '/image_raw')
    assert (image.encoding, image.height, image.width, image.step) == ('rgb8', 64, 64, 192)
    joints = next(m.msg for m in messages if m.topic == '/joint_states')
    assert list(joints.name[:6]) == ['shoulder_pan_joint', 'shoulder_lift_joint', 'elbow_joint',
                                     'wrist_1_joint', 'wrist_2_joint', 'wrist_3_joint']
    vocab = PrimitiveVocabulary.load()
    for m in messages:
        if m.topic == '/primitive':
            assert vocab.lookup(m.msg.data) is not None and m.msg.data in vocab.phrases
        if m.topic == '/supervision':
            assert vocab.lookup(m.msg.data) is not None
    end = [json.loads(m.msg.data) for m in messages if m.topic == '/episode'][-1]
    assert end == {'event': 'end', 'success': True, 'steps': steps}


def test_collect_is_resumable(demos):
    out, _ = demos
    again = collect(['reach_block', 'lift_block'], 2, out, seed=7, workers=1,
                    image_size=(64, 64), progress=False)
    assert again['episodes_written'] == 0 and again['episodes_skipped_existing'] == 4


def test_dataset_pairs_each_primitive_with_the_image_before_it(demos):
    out, _ = demos
    vocab = PrimitiveVocabulary.load()
    data = load_demonstrations([out], vocab, 32, progress=False)
    assert len(data.episodes) == 4
    assert data.images.shape[1:] == (32, 32, 3)
    with open_bag(out / episode_name('reach_block', 7)) as reader:
        count = reader.topics['/primitive'].count
        first_instruction = next(reader.messages(['/instruction'])).msg.data
    ep = data.episodes.index(episode_name('reach_block', 7))
    rows = np.flatnonzero(data.episode_index == ep)
    assert len(rows) == count
    assert data.instructions[rows[0]] == first_instruction
    assert all(s is not None for s in data.supervisions)
    # cached on the second read: same arrays
    again = load_demonstrations([out], vocab, 32, progress=False)
    np.testing.assert_array_equal(again.images, data.images)
    np.testing.assert_array_equal(again.labels, data.labels)


def test_a_split_shares_the_pixels_and_reads_the_right_ones(demos):
    out, _ = demos
    data = load_demonstrations([out], PrimitiveVocabulary.load(), 32, progress=False)
    train, val = data.split_by_episode(0.5, seed=1)
    assert train.images is data.images and val.images is data.images  # no copy
    assert len(train) + len(val) == len(data) and len(val) > 0
    for part in (train, val):
        idx = np.arange(len(part))[::-1]
        rows = np.flatnonzero(np.isin(data.episode_index, np.unique(part.episode_index)))
        np.testing.assert_array_equal(part.image_batch(idx), data.images[rows][idx])
    inner = train.subset(train.labels == train.labels[0])  # a subset of a subset
    np.testing.assert_array_equal(inner.image_batch(np.arange(len(inner))),
                                  data.images[data.labels == train.labels[0]][
                                      np.isin(data.episode_index[data.labels == train.labels[0]],
                                              np.unique(train.episode_index))])


def test_decoding_in_worker_processes_gives_the_same_dataset(demos, monkeypatch):
    from contrastive_vla.data import dataset

    out, _ = demos
    vocab = PrimitiveVocabulary.load()
    here = load_demonstrations([out], vocab, 32, cache_dir=out / '.cache_here', workers=1,
                               progress=False)
    monkeypatch.setattr(dataset, 'POOL_MIN_BAGS', 1)
    pooled = load_demonstrations([out], vocab, 32, cache_dir=out / '.cache_pool', workers=2,
                                 progress=False)
    assert pooled.episodes == here.episodes and pooled.instructions == here.instructions
    np.testing.assert_array_equal(pooled.images, here.images)
    np.testing.assert_array_equal(pooled.labels, here.labels)
    assert sorted(p.name for p in (out / '.cache_pool').iterdir()) == \
        sorted(p.name for p in (out / '.cache_here').iterdir())


def test_missing_topics_are_reported_by_name(demos):
    out, _ = demos
    vocab = PrimitiveVocabulary.load()
    with pytest.raises(ValueError, match='no usable samples.*missing topic'):
        load_demonstrations([out], vocab, 32, topics=TopicMap(image='/camera/color/image_raw'),
                            cache_dir=out / '.other_cache', progress=False)


def test_no_bags_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='no rosbag2 bags'):
        load_demonstrations([tmp_path], PrimitiveVocabulary.load(), 32, progress=False)


def test_a_misplaced_block_is_fetched_back_and_only_the_correction_is_recorded(tmp_path, vocab):
    from contrastive_vla.data.dataset import read_episode
    from contrastive_vla.data.demos import record_episode
    from contrastive_vla.sim.env import TabletopEnv
    from contrastive_vla.sim.expert import ScriptedExpert

    expert = ScriptedExpert.greedy()
    with TabletopEnv(image_size=(48, 48)) as env:
        plain = record_episode(env, expert, 'place_in_zone', 0, tmp_path / 'plain')
        detour = record_episode(env, expert, 'place_in_zone', 0, tmp_path / 'detour',
                                misplace=1.0)
        reach = record_episode(env, expert, 'reach_block', 0, tmp_path / 'reach', misplace=1.0)
    assert plain['misplacements'] == 0 and detour['misplacements'] == 1
    assert reach['misplacements'] == 0  # only carry tasks have a release to get wrong
    assert plain['success'] and detour['success']
    samples, _, _ = read_episode(tmp_path / 'detour' / detour['bag'], vocab, 32)
    names = [vocab[i].name for i in samples['labels']]
    # the expert's own steps only: one release at the end, after a second grasp
    assert names.count('open_gripper') == 1 and names[-1] == 'open_gripper'
    assert names.count('close_gripper') == 2 and len(names) == detour['steps'] > plain['steps']


def test_a_missed_grasp_is_opened_and_grasped_again_and_only_the_correction_is_recorded(
        tmp_path, vocab):
    from contrastive_vla.data.dataset import read_episode
    from contrastive_vla.data.demos import record_episode
    from contrastive_vla.sim.env import TabletopEnv
    from contrastive_vla.sim.expert import ScriptedExpert

    expert = ScriptedExpert.greedy()
    with TabletopEnv(image_size=(48, 48)) as env:
        plain = record_episode(env, expert, 'lift_block', 2, tmp_path / 'plain')
        missed = record_episode(env, expert, 'lift_block', 2, tmp_path / 'missed',
                                miss_grasp=1.0)
        push = record_episode(env, expert, 'push_block_left', 2, tmp_path / 'push',
                              miss_grasp=1.0)
    assert plain['missed_grasps'] == 0 and missed['missed_grasps'] == 1
    assert push['missed_grasps'] == 0  # a push never grasps
    assert plain['success'] and missed['success']
    plain_names = [vocab[i].name for i in read_episode(
        tmp_path / 'plain' / plain['bag'], vocab, 32)[0]['labels']]
    fingers = ['left_finger_joint', 'right_finger_joint']
    samples, _, _ = read_episode(tmp_path / 'missed' / missed['bag'], vocab, 32,
                                 joint_names=fingers)
    names = [vocab[i].name for i in samples['labels']]
    # the missed close is not recorded; the expert's first step after it opens the gripper,
    # and the one close recorded is the grasp that holds
    assert plain_names.count('open_gripper') == 0 and plain_names.count('close_gripper') == 1
    assert names.count('open_gripper') == 1 and names.count('close_gripper') == 1
    assert names.index('open_gripper') < names.index('close_gripper')
    assert len(names) == missed['steps'] > plain['steps']
    # at the correction the fingers are closed on nothing (narrower than the block)
    opened = names.index('open_gripper')
    grasped = names.index('close_gripper') + 1
    width = {step: float(np.sum(samples['states'][step][:2])) for step in (0, opened, grasped)}
    assert width[opened] < width[grasped] < width[0], width


def test_an_off_centre_release_slides_off_and_is_picked_up_again(tmp_path, vocab):
    from contrastive_vla.data.dataset import read_episode
    from contrastive_vla.data.demos import record_episode
    from contrastive_vla.data.mistakes import OffCentreRelease
    from contrastive_vla.sim.env import TabletopEnv
    from contrastive_vla.sim.expert import ScriptedExpert
    from contrastive_vla.sim.rollout import run_episode

    expert = ScriptedExpert.greedy()
    with TabletopEnv(image_size=(48, 48)) as env:
        # where the block lies right after the release: off the base, on the table
        release = OffCentreRelease(1.0, np.random.default_rng([0, 47]))
        lying = {}

        def once(env_):
            if not release(env_):
                return False
            state = env_.scene_state()
            block = state.blocks[env_.spec.binding['block']].position
            base = state.blocks[env_.spec.binding['base']].position
            lying.update(apart=float(np.linalg.norm(block[:2] - base[:2])),
                         height=float(block[2] - base[2]), grasped=state.grasped_colours)
            return True

        run_episode(env, expert, 'stack_blocks', 0, perturb=once)
        plain = record_episode(env, expert, 'stack_blocks', 0, tmp_path / 'plain')
        slid = record_episode(env, expert, 'stack_blocks', 0, tmp_path / 'slid',
                              off_centre=1.0)
        lift = record_episode(env, expert, 'lift_block', 0, tmp_path / 'lift', off_centre=1.0)
    assert release.count == 1 and not lying['grasped'], lying
    assert lying['apart'] > 0.04 and abs(lying['height']) < 0.01, lying  # beside the base
    assert plain['off_centre_releases'] == 0 and slid['off_centre_releases'] == 1
    assert lift['off_centre_releases'] == 0  # only a stack has a base to miss
    assert plain['success'] and slid['success']
    names = [vocab[i].name for i in read_episode(
        tmp_path / 'slid' / slid['bag'], vocab, 32)[0]['labels']]
    # the release off the centre is not recorded: the expert's grasp, then (after it) the
    # grasp again and the one release that stacks
    assert names.count('close_gripper') == 2 and names.count('open_gripper') == 1
    assert names[-1] == 'open_gripper' and len(names) == slid['steps'] > plain['steps']


def _first_seed(lowered):
    """The first stack seed whose armed misalignment picks that moment (its own rng stream)."""
    from contrastive_vla.data.mistakes import Misalignment

    return next(seed for seed in range(100)
                if Misalignment(1.0, np.random.default_rng([seed, 53])).lowered == lowered)


@pytest.mark.parametrize('lowered', [False, True], ids=['carrying', 'lowered'])
def test_a_misalignment_over_the_base_is_centred_again_before_the_release(tmp_path, vocab,
                                                                           lowered):
    from contrastive_vla.data.dataset import read_episode
    from contrastive_vla.data.demos import record_episode
    from contrastive_vla.data.mistakes import Misalignment
    from contrastive_vla.sim.env import TabletopEnv
    from contrastive_vla.sim.expert import ScriptedExpert
    from contrastive_vla.sim.rollout import run_episode

    seed = _first_seed(lowered)
    expert = ScriptedExpert.greedy()
    with TabletopEnv(image_size=(48, 48)) as env:
        shift = Misalignment(1.0, np.random.default_rng([seed, 53]))
        after = {}

        def once(env_):
            if not shift(env_):
                return False
            state = env_.scene_state()
            base = state.blocks[env_.spec.binding['base']].position
            after.update(off=float(np.linalg.norm(state.tcp_position[:2] - base[:2])),
                         held=state.grasped(env_.spec.binding['block']))
            return True

        steps = []
        run_episode(env, expert, 'stack_blocks', seed, perturb=once,
                    on_step=lambda record: steps.append((bool(after), record.primitive.name)))
        plain = record_episode(env, expert, 'stack_blocks', seed, tmp_path / 'plain')
        shifted = record_episode(env, expert, 'stack_blocks', seed, tmp_path / 'shifted',
                                 misalign=1.0)
        place = record_episode(env, expert, 'place_in_zone', seed, tmp_path / 'place',
                               misalign=1.0)
    assert shift.count == 1 and after['held'], after
    assert 0.012 < after['off'] < 0.03, after  # off the centre, the block still in the fingers
    # the expert's first decision after the shift: rise first (lowered), or a 1 cm step across
    first = next(name for shifted_yet, name in steps if shifted_yet)
    if lowered:
        assert first.startswith('up_'), steps
    else:
        assert first.endswith('_1cm') and not first.startswith(('up_', 'down_')), steps
    assert plain['misalignments'] == 0 and shifted['misalignments'] == 1
    assert place['misalignments'] == 0  # only a stack has a base to centre over
    assert plain['success'] and shifted['success']
    names, plain_names = ([vocab[i].name for i in read_episode(
        tmp_path / run / summary['bag'], vocab, 32)[0]['labels']]
        for run, summary in (('shifted', shifted), ('plain', plain)))
    # the shift is not recorded: the plain episode up to it (held over the base, not yet let
    # go), then the correction; the release comes after it
    before = sum(not shifted_yet for shifted_yet, _ in steps)
    assert names[:before] == plain_names[:before] == [name for _, name in steps[:before]]
    assert 'open_gripper' not in names[:before + 1] and names[before] == first
    assert names[-1] == 'open_gripper' and len(names) == shifted['steps'] > plain['steps']


@pytest.mark.parametrize('option', ['misplace', 'miss_grasp', 'off_centre', 'misalign'])
def test_a_perturbation_probability_outside_0_1_is_refused_before_anything_is_written(
        tmp_path, option):
    with pytest.raises(ValueError, match=f'{option} is a probability in \\[0, 1\\], got 1.5'):
        collect(['lift_block'], 1, tmp_path / 'out', workers=1, progress=False,
                **{option: 1.5})
    assert not (tmp_path / 'out').exists()


def test_a_relabelled_twin_names_the_other_zone_on_the_same_images(tmp_path, vocab):
    from contrastive_vla.data.dataset import read_episode
    from contrastive_vla.data.demos import RELABEL_SUFFIX, record_episode
    from contrastive_vla.sim.env import TabletopEnv
    from contrastive_vla.sim.expert import ScriptedExpert

    expert = ScriptedExpert.greedy()
    with TabletopEnv(image_size=(48, 48)) as env:
        place = record_episode(env, expert, 'place_in_zone', 0, tmp_path, relabel=True)
        spec = env.spec
        reach = record_episode(env, expert, 'reach_block', 0, tmp_path, relabel=True)
    assert place['relabelled'] and place['success'] and not reach['relabelled']
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [place['bag'], place['bag'] + RELABEL_SUFFIX, reach['bag']])
    main, _, _ = read_episode(tmp_path / place['bag'], vocab, 32)
    twin, success, _ = read_episode(tmp_path / (place['bag'] + RELABEL_SUFFIX), vocab, 32)
    assert success and len(twin['labels']) == len(main['labels']) == place['steps']
    np.testing.assert_array_equal(np.stack(twin['images']), np.stack(main['images']))
    other = next(c for c in spec.zone_colours if c != spec.binding['zone'])
    assert twin['instructions'][0] == spec.instruction.replace(spec.binding['zone'], other)
    # the same block is fetched; once it is carried, the twin's expert heads elsewhere
    same = np.equal(twin['labels'], main['labels'])
    first_difference = int(np.argmin(same))
    assert 0 < first_difference and not same.all()
    assert [vocab[i].name for i in main['labels']].index('close_gripper') < first_difference
    with open_bag(tmp_path / (place['bag'] + RELABEL_SUFFIX)) as reader:
        events = [json.loads(m.msg.data) for m in reader.messages(['/episode'])]
    assert events[-1]['relabelled'] is True
    assert events[-1]['executed_instruction'] == spec.instruction


def test_the_task_is_read_back_from_a_bag_name():
    assert episode_task(episode_name('push_block_left', 500123)) == 'push_block_left'
    assert episode_task('data/x/' + episode_name('stack_blocks', 7) + RELABEL_SUFFIX) == \
        'stack_blocks'
    assert episode_task('my_recording_2026-12-03') is None
