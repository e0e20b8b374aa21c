import numpy as np
import pytest
import yaml

from contrastive_vla.sim.env import BlockState, SceneState, ZoneState
from contrastive_vla.sim.tasks import (
    FAMILIES,
    TaskError,
    Wording,
    load_instruction_overrides,
    load_tasks,
    rename_referent,
    resolve_task_ids,
    success,
)

TASKS = load_tasks()


def test_suite_has_at_least_8_tasks_in_3_families():
    assert len(TASKS) >= 8
    assert len({t.family for t in TASKS.values()}) >= 3
    assert {t.family for t in TASKS.values()} <= set(FAMILIES)
    for task in TASKS.values():
        assert len(task.templates) >= 3


def state(blocks, tcp=(0.45, 0.0, 0.25), grasped=(), zones=None):
    return SceneState(
        blocks={c: BlockState(c, np.array(p, float), np.array(init, float), 0.0)
                for c, (p, init) in blocks.items()},
        zones={c: ZoneState(c, np.array(p, float)) for c, p in (zones or {}).items()},
        tcp_position=np.array(tcp, float), tcp_rotation=np.eye(3), gripper_opening=0.05,
        gripper_closed=bool(grasped), block_half_size=0.02, zone_half_size=0.055,
        grasped_colours=frozenset(grasped))


def test_reach_predicate():
    task, binding = TASKS['reach_block'], {'block': 'red'}
    red = {'red': ((0.5, 0.1, 0.02), (0.5, 0.1, 0.02))}
    assert success(task, binding, state(red, tcp=(0.51, 0.11, 0.05)))
    assert not success(task, binding, state(red, tcp=(0.56, 0.1, 0.05)))  # 6 cm off
    assert not success(task, binding, state(red, tcp=(0.5, 0.1, 0.2)))    # too high


def test_push_predicate():
    task, binding = TASKS['push_block_left'], {'block': 'red'}
    init = (0.5, 0.0, 0.02)
    assert success(task, binding, state({'red': ((0.5, 0.09, 0.02), init)}))
    assert not success(task, binding, state({'red': ((0.5, 0.05, 0.02), init)}))  # too short
    assert not success(task, binding, state({'red': ((0.5, -0.09, 0.02), init)}))  # wrong way
    assert not success(task, binding, state({'red': ((0.58, 0.09, 0.02), init)}))  # sideways


def test_lift_predicate_needs_height_and_grasp():
    task, binding = TASKS['lift_block'], {'block': 'red'}
    up = {'red': ((0.5, 0.0, 0.12), (0.5, 0.0, 0.02))}
    assert success(task, binding, state(up, grasped=('red',)))
    assert not success(task, binding, state(up))
    low = {'red': ((0.5, 0.0, 0.05), (0.5, 0.0, 0.02))}
    assert not success(task, binding, state(low, grasped=('red',)))


def test_place_predicate():
    task, binding = TASKS['place_in_zone'], {'block': 'red', 'zone': 'green'}
    zones = {'green': (0.4, 0.1, 0.0)}
    inside = {'red': ((0.43, 0.12, 0.02), (0.6, 0.0, 0.02))}
    assert success(task, binding, state(inside, zones=zones))
    assert not success(task, binding, state(inside, zones=zones, grasped=('red',)))
    outside = {'red': ((0.47, 0.12, 0.02), (0.6, 0.0, 0.02))}
    assert not success(task, binding, state(outside, zones=zones))


def test_stack_predicate():
    task, binding = TASKS['stack_blocks'], {'block': 'red', 'base': 'blue'}
    on_top = {'red': ((0.5, 0.01, 0.06), (0.3, 0, 0.02)), 'blue': ((0.5, 0.0, 0.02),) * 2}
    assert success(task, binding, state(on_top))
    assert not success(task, binding, state(on_top, grasped=('red',)))
    beside = {'red': ((0.5, 0.04, 0.02), (0.3, 0, 0.02)), 'blue': ((0.5, 0.0, 0.02),) * 2}
    assert not success(task, binding, state(beside))


def test_resolve_task_ids():
    assert resolve_task_ids('all', TASKS) == list(TASKS)
    assert resolve_task_ids('reach_block, lift_block', TASKS) == ['reach_block', 'lift_block']
    with pytest.raises(TaskError, match="unknown task id.*'fly'"):
        resolve_task_ids('reach_block,fly', TASKS)


def test_task_file_validation(tmp_path):
    bad = tmp_path / 'tasks.yaml'
    bad.write_text(yaml.safe_dump({'tasks': {'t': {'family': 'dance', 'templates': ['x'],
                                                   'step_budget': 3}}}))
    with pytest.raises(TaskError, match="task 't': unknown family 'dance'"):
        load_tasks(bad)
    bad.write_text(yaml.safe_dump({'tasks': {'t': {'family': 'reach', 'step_budget': 3,
                                                   'templates': ['go to {colour}']}}}))
    with pytest.raises(TaskError, match='unknown placeholder'):
        load_tasks(bad)


def test_instruction_overrides(tmp_path):
    path = tmp_path / 'wordings.yaml'
    path.write_text(yaml.safe_dump({'reach_block': ['hover over the {block} cube']}))
    assert load_instruction_overrides(path, TASKS) == {
        'reach_block': ('hover over the {block} cube',)}
    path.write_text(yaml.safe_dump({'reach_block': ['hover over the cube']}))
    with pytest.raises(TaskError, match='placeholders'):
        load_instruction_overrides(path, TASKS)
    path.write_text(yaml.safe_dump({'levitate': ['x']}))
    with pytest.raises(TaskError, match='unknown task id'):
        load_instruction_overrides(path, TASKS)


def test_colour_words_say_every_task_with_other_colour_names(tmp_path):
    path = tmp_path / 'synonyms.yaml'
    path.write_text(yaml.safe_dump({'colour_words': {'red': ['crimson']},
                                    'reach_block': ['hover over the {block} cube']}))
    wordings = load_instruction_overrides(path, TASKS)
    assert set(wordings) == set(TASKS)
    assert wordings['reach_block'] == Wording(('hover over the {block} cube',),
                                              {'red': ('crimson',)})
    assert wordings['lift_block'].templates == TASKS['lift_block'].templates
    for bad in ({'red': 'crimson'}, {'red': []}, {'red': ['{block}']}, []):
        path.write_text(yaml.safe_dump({'colour_words': bad}))
        with pytest.raises(TaskError, match='colour_words'):
            load_instruction_overrides(path, TASKS)


def test_extra_task_files_add_tasks_of_your_own(tmp_path, monkeypatch):
    from contrastive_vla.core.resources import config_path
    from contrastive_vla.sim.tasks import EXTRA_TASKS_ENV

    monkeypatch.setenv(EXTRA_TASKS_ENV, str(config_path('tasks_new_example.yaml')))
    tasks = load_tasks()
    assert set(TASKS) < set(tasks) and tasks['lift_block_high'].params['height'] == 0.16
    clash = tmp_path / 'clash.yaml'
    clash.write_text(yaml.safe_dump({'tasks': {'reach_block': {
        'family': 'reach', 'step_budget': 3, 'templates': ['go to the {block} block']}}}))
    monkeypatch.setenv(EXTRA_TASKS_ENV, str(clash))
    with pytest.raises(TaskError, match=r"\['reach_block'\] already exist"):
        load_tasks()
    monkeypatch.setenv(EXTRA_TASKS_ENV, str(tmp_path / 'missing.yaml'))
    with pytest.raises(TaskError, match='no task file'):
        load_tasks()


@pytest.mark.parametrize('text, colour, expected', [
    ('put the red block in the blue zone', 'blue', 'put the red block in the green zone'),
    ('Blue zone, red block', 'blue', 'green zone, red block'),
    ('put the red block in the bluest zone', 'blue', None),  # whole words only
    ('the blue block on the blue one', 'blue', None),         # ambiguous
    ('reach the crimson cube', 'red', None),                  # a synonym is not renamed
])
def test_rename_referent(text, colour, expected):
    assert rename_referent(text, colour, 'green') == expected
