"""The language-conditioned task suite: task ids and templates from config/tasks.yaml, the
scene sampled for an episode, and one success predicate per task family.

Families: ``reach`` (TCP just above the block), ``push`` (block moved along a direction),
``lift`` (block held above the table), ``place`` (block released inside a zone), ``stack``
(block released on top of another block).
"""

from dataclasses import dataclass, field
import os
import re
import string
from typing import NamedTuple

import numpy as np
import yaml

from contrastive_vla.core.resources import config_path

FAMILIES = ('reach', 'push', 'lift', 'place', 'stack')
_PLACEHOLDERS = {'block', 'zone', 'base'}


class TaskError(ValueError):
    """Unknown task id, bad task file or instruction template."""


@dataclass(frozen=True)
class Task:
    id: str
    family: str
    templates: tuple
    step_budget: int
    params: dict = field(default_factory=dict)

    @property
    def needs(self):
        """Placeholders the templates use ({block}, {zone}, {base})."""
        return template_fields(self.templates[0])


def template_fields(template):
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


EXTRA_TASKS_ENV = 'CONTRASTIVE_VLA_TASKS'


def rename_referent(instruction, colour, new_colour):
    """``instruction`` with the colour word ``colour`` replaced by ``new_colour``, or None if
    the word is not there exactly once (as a whole word, any case): "put the red block in the
    blue zone" -> "... in the green zone"; reworded instructions work as long as they name
    the colour."""
    pattern = re.compile(rf'\b{re.escape(colour)}\b', re.IGNORECASE)
    if len(pattern.findall(instruction)) != 1:
        return None
    return pattern.sub(new_colour, instruction)


def load_tasks(path=None):
    """Task id -> Task: the packaged suite (config/tasks.yaml, or ``path``) plus the task files
    listed in $CONTRASTIVE_VLA_TASKS (os.pathsep-separated; same format), which is how users
    add tasks of their own. Validated; errors name the file, the task and the problem."""
    tasks = _load_task_file(path or config_path('tasks.yaml'))
    for extra in filter(None, os.environ.get(EXTRA_TASKS_ENV, '').split(os.pathsep)):
        if not os.path.isfile(extra):
            raise TaskError(f'{EXTRA_TASKS_ENV}: no task file {extra!r}')
        added = _load_task_file(extra)
        clash = sorted(set(added) & set(tasks))
        if clash:
            raise TaskError(f'{extra}: task id(s) {clash} already exist; pick new ids')
        tasks.update(added)
    return tasks


def _load_task_file(path):
    with open(path, encoding='utf-8') as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict) or not isinstance(data.get('tasks'), dict):
        raise TaskError(f'{path}: expected a mapping with a "tasks" mapping')
    tasks = {}
    for task_id, entry in data['tasks'].items():
        where = f'{path}: task {task_id!r}'
        if not isinstance(entry, dict):
            raise TaskError(f'{where}: expected a mapping')
        family = entry.get('family')
        if family not in FAMILIES:
            raise TaskError(f'{where}: unknown family {family!r}; expected one of {FAMILIES}')
        templates = entry.get('templates')
        if not isinstance(templates, list) or not templates:
            raise TaskError(f'{where}: "templates" must be a non-empty list')
        fields = None
        for template in templates:
            used = template_fields(template)
            if used - _PLACEHOLDERS:
                raise TaskError(f'{where}: template {template!r} uses unknown placeholder(s) '
                                f'{sorted(used - _PLACEHOLDERS)}')
            if fields is not None and used != fields:
                raise TaskError(f'{where}: template {template!r} uses {sorted(used)}, the first '
                                f'one uses {sorted(fields)}')
            fields = used
        budget = entry.get('step_budget')
        if not isinstance(budget, int) or budget <= 0:
            raise TaskError(f'{where}: step_budget must be a positive integer')
        tasks[task_id] = Task(task_id, family, tuple(templates), budget,
                              dict(entry.get('params') or {}))
    return tasks


def resolve_task_ids(spec, tasks):
    """'all', a comma-separated list, or a list of task ids -> list of ids (validated)."""
    if spec in (None, 'all', ['all']):
        return list(tasks)
    ids = spec.split(',') if isinstance(spec, str) else list(spec)
    ids = [i.strip() for i in ids if i.strip()]
    unknown = [i for i in ids if i not in tasks]
    if unknown:
        raise TaskError(f'unknown task id(s) {unknown}; known: {sorted(tasks)}')
    if not ids:
        raise TaskError('no task ids given')
    return ids


class Wording(NamedTuple):
    """What to say for a task: its instruction templates, and the words to say the scene's
    colours with (scene colour -> words, one picked per episode; None: the colour's name)."""
    templates: tuple
    colour_words: dict | None = None


COLOUR_WORDS_KEY = 'colour_words'


def load_instruction_overrides(path, tasks):
    """YAML task id -> list of instruction strings (same placeholders as the templates).

    The optional key ``colour_words`` (scene colour -> list of words) says the colours with
    other words ("crimson" for red); then every task gets a :class:`Wording` (the tasks not
    listed keep their templates), otherwise the listed tasks get a tuple of strings."""
    with open(path, encoding='utf-8') as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise TaskError(f'{path}: expected a mapping of task id -> list of instructions')
    data = dict(data)
    colour_words = data.pop(COLOUR_WORDS_KEY, None)
    if colour_words is not None:
        if not isinstance(colour_words, dict) or not colour_words or not all(
                isinstance(words, list) and words and all(
                    isinstance(w, str) and w.strip() and '{' not in w and '}' not in w
                    for w in words) for words in colour_words.values()):
            raise TaskError(f'{path}: {COLOUR_WORDS_KEY} must map scene colours to non-empty '
                            'lists of words')
        colour_words = {str(k): tuple(v) for k, v in colour_words.items()}
    overrides = {}
    for task_id, items in data.items():
        if task_id not in tasks:
            raise TaskError(f'{path}: unknown task id {task_id!r}; known: {sorted(tasks)}')
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            raise TaskError(f'{path}: {task_id}: expected a non-empty list of strings')
        needed = tasks[task_id].needs
        for item in items:
            used = template_fields(item)
            if used != needed:
                raise TaskError(f'{path}: {task_id}: {item!r} must use the placeholders '
                                f'{sorted(needed)} (it uses {sorted(used)})')
        overrides[task_id] = tuple(items)
    if colour_words is not None:
        return {task_id: Wording(overrides.get(task_id, task.templates), colour_words)
                for task_id, task in tasks.items()}
    return overrides


# ---- success predicates ----------------------------------------------------------------------
# ``state`` is a SceneState (see env.py): blocks/zones by colour, TCP pose, grasp contacts.

def _block(state, colour):
    return state.blocks[colour]


def release_centre(family, binding, state):
    """The xy centre a task of ``family`` lets its block go over (place: its zone, stack: its
    base block) in ``state``, or None for a family that releases over nothing."""
    if family == 'place':
        return state.zones[binding['zone']].position[:2]
    if family == 'stack':
        return _block(state, binding['base']).position[:2]
    return None


def success(task, binding, state):
    """Whether ``task`` with ``binding`` ({'block': 'red', ...}) is solved in ``state``."""
    p = task.params
    half = state.block_half_size
    target = _block(state, binding['block'])
    if task.family == 'reach':
        offset = state.tcp_position - target.position
        return bool(np.linalg.norm(offset[:2]) <= p.get('tolerance_xy', 0.03)
                    and -half <= offset[2] <= p.get('max_height', 0.07))
    if task.family == 'push':
        direction = np.asarray(p['direction'], dtype=float)
        moved = target.position[:2] - target.initial_position[:2]
        along = float(moved @ direction)
        sideways = float(np.linalg.norm(moved - along * direction))
        return bool(along >= p.get('distance', 0.08)
                    and sideways <= p.get('max_sideways', 0.05)
                    and target.position[2] < half * 1.5)
    if task.family == 'lift':
        return bool(target.position[2] - half >= p.get('height', 0.08)
                    and state.grasped(binding['block']))
    if task.family == 'place':
        zone = state.zones[binding['zone']]
        inside = np.all(np.abs(target.position[:2] - zone.position[:2]) <= state.zone_half_size)
        return bool(inside and target.position[2] < half * 1.5
                    and not state.grasped(binding['block']))
    if task.family == 'stack':
        base = _block(state, binding['base'])
        xy = np.linalg.norm(target.position[:2] - base.position[:2])
        dz = target.position[2] - base.position[2]
        return bool(xy <= p.get('tolerance_xy', 0.025) and abs(dz - 2 * half) < 0.012
                    and not state.grasped(binding['block']))
    raise TaskError(f'no success predicate for family {task.family!r}')
