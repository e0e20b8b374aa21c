"""Does the policy listen? Renamed referents and expert agreement, measured in closed loop.

``eval-sim --probe`` wraps the policy in a ``LanguageProbe``. At every decision of an episode
the probe also asks

- the policy again, with each referent of the instruction (the block, the zone, the base block)
  renamed to another colour of the same kind that is in the scene: does the decision change?
- the scripted expert what it would do here (on-policy agreement, what DAgger measures).

Both are split by the episode's phase: ``fetch`` (the task's block is not held) and ``carry``
(it is). A policy that reads the instruction changes its decision when the referent that
matters now is renamed: the block while fetching, the zone or the base block while carrying.
One that ignores a word never does; this is how we found a text tower that had dropped the
second colour of "put the red block in the blue zone" (docs/model-history.md, "What limits
place and stack").

Renaming edits the colour word in the instruction as given, so it works with the task
templates and with reworded instructions alike; a step is not probed for a referent whose
colour word does not appear exactly once.
"""

import numpy as np

from contrastive_vla.evaluation.beside_expert import BesideExpert
from contrastive_vla.sim.tasks import rename_referent

PHASES = ('fetch', 'carry')
REFERENTS = ('block', 'zone', 'base')


class ProbeError(ValueError):
    """The policy cannot be probed (it does not score instructions)."""


def _empty_stats():
    """Counts of one episode (or their sum): agreement per phase, changes per referent and
    phase."""
    return {'agreement': {p: {'agree': 0, 'decisions': 0} for p in PHASES},
            'renamed': {r: {p: {'changed': 0, 'probed': 0} for p in PHASES}
                        for r in REFERENTS}}


def _add(total, counts):
    """Add the nested counts ``counts`` into ``total`` (same shape, from _empty_stats)."""
    for key, value in counts.items():
        if isinstance(value, dict):
            _add(total[key], value)
        else:
            total[key] += value


class LanguageProbe(BesideExpert):
    """Wraps a policy with ``scores(image, instruction, state)`` for the episode runner."""

    def __init__(self, policy, expert=None):
        if not callable(getattr(policy, 'scores', None)):
            raise ProbeError('the language probe needs a trained model (it re-scores the '
                             'primitives for renamed instructions); "expert" and "random" '
                             'do not read the instruction')
        super().__init__(policy, expert)
        self.needs_images = True
        self.stats = None

    def reset(self, task=None, seed=None):
        self.policy.reset(task, seed=seed)
        self.expert.reset(task)
        self._step = 0
        self.stats = _empty_stats()

    def act(self, observation):
        primitive = self.policy.act(observation)
        if primitive is None:
            return None
        env, spec = self.env, self.env.spec
        state = env.scene_state()
        phase = 'carry' if state.grasped(spec.binding['block']) else 'fetch'
        wanted = self.expert.act()
        agreement = self.stats['agreement'][phase]
        agreement['decisions'] += 1
        agreement['agree'] += int(wanted is not None and wanted.index == primitive.index)
        needs = sorted(env.tasks[spec.task_id].needs)
        bound = {spec.binding[r] for r in needs}
        for referent in needs:
            colour = spec.binding[referent]
            pool = spec.zone_colours if referent == 'zone' else spec.block_colours
            others = [c for c in pool if c not in bound]
            if not others:
                continue  # nothing of that kind to rename it to (two blocks, both named)
            renamed = rename_referent(observation.instruction, colour,
                                      others[self._step % len(others)])
            if renamed is None:
                continue
            scores = self.policy.scores(observation.image, renamed,
                                        getattr(observation, 'joint_positions', None))
            counter = self.stats['renamed'][referent][phase]
            counter['probed'] += 1
            counter['changed'] += int(int(np.argmax(scores)) != primitive.index)
        self._step += 1
        return primitive


def summarise_probe(episodes):
    """Per-task rates from the episodes' probe stats (``episode['probe']``)."""
    per_task = {}
    for episode in episodes:
        stats = episode.get('probe')
        if not stats:
            continue
        _add(per_task.setdefault(episode['task'], _empty_stats()), stats)
    out = {}
    for task_id, task in per_task.items():
        agreement = {p: _rate(r['agree'], r['decisions']) | {'decisions': r['decisions']}
                     for p, r in task['agreement'].items() if r['decisions']}
        renamed = {f'{ref}/{p}': _rate(r['changed'], r['probed']) | {'probed': r['probed']}
                   for ref, phases in task['renamed'].items() for p, r in phases.items()
                   if r['probed']}
        out[task_id] = {'expert_agreement': agreement, 'decision_changes_when_renamed': renamed}
    return out


def _rate(numerator, denominator):
    return {'rate': round(numerator / denominator, 4) if denominator else None}


def format_probe(probe):
    """A table: per task, expert agreement and decision changes per (referent, phase)."""
    lines = ['language probe: share of decisions that change when a referent is renamed '
             '(fetch = block not held, carry = held), and agreement with the expert',
             f'{"task":<22} {"renamed referent/phase":<26} {"changed":>8} {"probed":>7}']
    for task_id, row in probe.items():
        for key, cell in row['decision_changes_when_renamed'].items():
            lines.append(f'{task_id:<22} {key:<26} {cell["rate"]:>8.1%} {cell["probed"]:>7}')
        for phase, cell in row['expert_agreement'].items():
            lines.append(f'{task_id:<22} {"agrees with expert/" + phase:<26} '
                         f'{cell["rate"]:>8.1%} {cell["decisions"]:>7}')
    return '\n'.join(lines)
