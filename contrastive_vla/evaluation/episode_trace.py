"""Why did an episode fail? Each decision beside the expert's, and how failed episodes end.

``eval-sim --trace`` wraps the policy in an ``EpisodeTracer``. At every decision it also
notes what the scripted expert would do in that state and the gripper's state:

- ``open``: the gripper is open;
- ``holding``: closed on the task's block;
- ``closed_empty``: closed on nothing (or on something other than the task's block).

Each episode of the summary's ``episode_results`` gains ``trace`` (one entry per decision:
``expert``, ``gripper``; in the tasks that let go over a target, place and stack, also
``off_target_cm``: how far the TCP is across from the zone's or base's centre), and the summary
gains ``failure_trace``: per task, how the failed episodes ended (the gripper's state at their
last decision, and whether the expert would then have opened the gripper), at which step the
policy first did what the expert would not, and, where the task has a target, how far off it
the policy let go of the block in successful and in failed episodes (``releases``).

A trace is how we found what held the fast recipe's stacking back: most failed stacks ended
with the gripper closed on nothing, the policy saying "close" or moving about and the expert
saying "open" (docs/model-history.md, "Missed grasps"), and then that the failed stacks let go
1.4-3.1 cm off the base's centre, where the block falls beside it ("Misalignments over the
base"). Departures from the expert are not errors as such (the expert is one of many ways to do
a task); how an episode *ends* is what says what the policy had never learnt.
"""

import numpy as np

from contrastive_vla.evaluation.beside_expert import BesideExpert
from contrastive_vla.sim.tasks import release_centre

GRIPPER_STATES = ('open', 'holding', 'closed_empty')


def gripper_state(state, colour):
    """'open', 'holding' (closed on block ``colour``) or 'closed_empty' for a SceneState."""
    if not state.gripper_closed:
        return 'open'
    return 'holding' if state.grasped(colour) else 'closed_empty'


class EpisodeTracer(BesideExpert):
    """Wraps a policy for the episode runner; ``trace`` is the current episode's decisions."""

    def __init__(self, policy, expert=None):
        super().__init__(policy, expert)
        self.trace = None

    @property
    def stats(self):
        """The wrapped policy's own episode statistics (the language probe's), if any."""
        return getattr(self.policy, 'stats', None)

    def reset(self, task=None, seed=None):
        self.policy.reset(task, seed=seed)
        self.expert.reset(task)
        self.trace = []

    def act(self, observation):
        # what the expert would do and the gripper, both before the policy's step moves anything
        state = self.env.scene_state()
        wanted = self.expert.act()
        entry = {'expert': wanted.name if wanted is not None else None,
                 'gripper': gripper_state(state, self.env.spec.binding['block'])}
        target = release_centre(self.env.tasks[self.env.spec.task_id].family,
                                self.env.spec.binding, state)
        if target is not None:
            off = np.linalg.norm(state.tcp_position[:2] - target)
            entry['off_target_cm'] = round(float(off) * 100.0, 2)
        self.trace.append(entry)
        return self.policy.act(observation)


def _spread(values):
    """{'releases', 'median_cm', 'max_cm'} of release offsets (cm); medians None when empty."""
    return {'releases': len(values),
            'median_cm': round(float(np.median(values)), 2) if values else None,
            'max_cm': round(float(np.max(values)), 2) if values else None}


def summarise_traces(episodes):
    """Per task, from episode rows with ``trace`` and ``primitives``: how failures end."""
    out = {}
    for episode in episodes:
        trace = episode.get('trace')
        if trace is None:
            continue
        row = out.setdefault(episode['task'], {
            'failed': 0, 'ended': dict.fromkeys(GRIPPER_STATES, 0),
            'ended_expert_would_open': 0, 'first_departure_steps': [],
            'agree': 0, 'decisions': 0, 'releases': None})
        taken = episode['primitives']
        agreed = [t['expert'] == p for t, p in zip(trace, taken)]
        row['agree'] += sum(agreed)
        row['decisions'] += len(agreed)
        # letting go of the held block (the primitive executed, the loop breaker's included)
        offsets = [t['off_target_cm'] for t, p in zip(trace, taken)
                   if p == 'open_gripper' and t['gripper'] == 'holding' and 'off_target_cm' in t]
        if any('off_target_cm' in t for t in trace):
            releases = row['releases'] = row['releases'] or {'successful': [], 'failed': []}
            releases['successful' if episode['success'] else 'failed'].extend(offsets)
        if episode['success'] or not trace:
            continue
        row['failed'] += 1
        row['ended'][trace[-1]['gripper']] += 1
        row['ended_expert_would_open'] += int(trace[-1]['expert'] == 'open_gripper')
        if not all(agreed):
            row['first_departure_steps'].append(agreed.index(False))
    for row in out.values():
        steps = row.pop('first_departure_steps')
        row['first_departure_step_median'] = float(np.median(steps)) if steps else None
        row['expert_agreement'] = round(row.pop('agree') / row['decisions'], 4) \
            if row['decisions'] else None
        if row['releases'] is not None:
            row['releases'] = {outcome: _spread(values)
                               for outcome, values in row['releases'].items()}
    return out


def format_traces(summary):
    """A table: per task, the failed episodes by the gripper's state at their end."""
    lines = ['how failed episodes ended (gripper at the last decision; "expert: open" = the '
             'expert would have opened it there)',
             f'{"task":<22} {"failed":>6} {"open":>6} {"holding":>8} {"closed empty":>13} '
             f'{"expert: open":>13} {"1st departure":>14} {"agrees":>7}']
    for task_id, row in summary.items():
        departure = row['first_departure_step_median']
        agreement = row['expert_agreement']
        lines.append(
            f'{task_id:<22} {row["failed"]:>6} {row["ended"]["open"]:>6} '
            f'{row["ended"]["holding"]:>8} {row["ended"]["closed_empty"]:>13} '
            f'{row["ended_expert_would_open"]:>13} '
            f'{"-" if departure is None else f"step {departure:g}":>14} '
            f'{"-" if agreement is None else f"{agreement:.0%}":>7}')
    released = {task_id: row['releases'] for task_id, row in summary.items()
                if row.get('releases')}
    if released:
        lines.append("where the block was let go (the TCP's distance across from the zone's or "
                     "base's centre)")
        for task_id, releases in released.items():
            parts = [f'{outcome} episodes {spread["releases"]} releases'
                     + (f', median {spread["median_cm"]:.1f} cm, max {spread["max_cm"]:.1f} cm'
                        if spread['releases'] else '')
                     for outcome, spread in releases.items()]
            lines.append(f'{task_id:<22} ' + '; '.join(parts))
    return '\n'.join(lines)
