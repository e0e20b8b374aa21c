"""Closed-loop evaluation in the simulator: success rates per task with confidence intervals.

``evaluate_in_sim`` runs episodes (task x seed) with a policy, optionally over several worker
processes and with videos, and returns the JSON-ready summary that ``contrastive-vla eval-sim``
writes.

Every episode also runs the VLA node's stuck detector (``control.stuck``, the node's default
limits): ``stuck='observe'`` (default) records when it would have fired and lets the episode
run on, so one run gives both the success rate and the success rate had the episode stopped
there (``stuck.success_rate_if_stopped``); ``'stop'`` ends the episode when it fires, as the
node stops deciding; ``'off'`` runs without it.

Every model's decisions also go through the VLA node's loop breaker (``control.loops``, on by
default in the node as here): a primitive already executed from the same arm state is passed
over for the next best. ``loops='off'`` gives the policy's own choices.
"""

import math
import os
from pathlib import Path
import time

import numpy as np

from contrastive_vla.control.loops import LOOP_MODES, LoopBreaker
from contrastive_vla.control.stuck import StuckDetector, StuckLimits
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.core.workers import map_episodes
from contrastive_vla.sim.env import TabletopEnv
from contrastive_vla.sim.expert import ScriptedExpert
from contrastive_vla.sim.rollout import run_episode


def wilson_interval(successes, n, z=1.96):
    """95% Wilson score interval of a success rate; (0, 1) for n = 0."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


class RandomPolicy:
    """Uniformly random primitives: the floor any trained policy must beat."""

    name = 'random'
    needs_images = False

    def __init__(self, seed=0, vocab=None):
        self.rng = np.random.default_rng(seed)
        self.vocab = vocab if vocab is not None else PrimitiveVocabulary.load()

    def reset(self, task=None, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed + 7919)

    def act(self, observation):
        return self.vocab[int(self.rng.integers(len(self.vocab)))]


def make_policy(spec):
    """'expert', 'random' or a model path -> a policy object (reset/act)."""
    if spec == 'expert':
        return ScriptedExpert()
    if spec == 'random':
        return RandomPolicy()
    from contrastive_vla.model.policy import load_policy  # the model room, heavy imports

    return load_policy(spec)


# ---- worker processes ------------------------------------------------------------------------
_WORKER = {}
STUCK_MODES = ('observe', 'stop', 'off')


def _init_worker(policy_spec, image_size, video_dir, threads, probe=False, stuck='observe',
                 trace=False, loops='on'):
    if threads:
        try:
            # deferred: torch takes seconds to import; only this path needs it
            import torch

            torch.set_num_threads(threads)
        except ImportError:
            pass

    _WORKER['env'] = TabletopEnv(image_size=image_size)
    _WORKER['policy'] = make_policy(policy_spec)
    if probe:
        # deferred: only --probe runs use the probe
        from contrastive_vla.evaluation.language_probe import LanguageProbe

        _WORKER['policy'] = LanguageProbe(_WORKER['policy'])
    if trace:
        # deferred: only --trace runs use the tracer
        from contrastive_vla.evaluation.episode_trace import EpisodeTracer

        _WORKER['policy'] = EpisodeTracer(_WORKER['policy'])
    _WORKER['video_dir'] = video_dir
    _WORKER['stuck'] = None if stuck == 'off' else StuckDetector(StuckLimits())
    _WORKER['stop_when_stuck'] = stuck == 'stop'
    _WORKER['loops'] = LoopBreaker() if loops == 'on' else None


def _run_one(job):
    task_id, seed, instruction, video = job
    env, policy = _WORKER['env'], _WORKER['policy']
    writer = None
    if video and _WORKER['video_dir']:
        # deferred: OpenCV loads only when a video is written
        from contrastive_vla.evaluation.video import EpisodeVideo

        writer = EpisodeVideo(Path(_WORKER['video_dir']) / f'{task_id}_{seed:05d}.mp4', env)
        env.frame_callback = writer.add_frame
    result = None
    try:
        result = run_episode(env, policy, task_id, seed, instruction=instruction,
                             render=getattr(policy, 'needs_images', True),
                             stuck=_WORKER['stuck'], stop_when_stuck=_WORKER['stop_when_stuck'],
                             loops=_WORKER['loops'])
    finally:
        env.frame_callback = None
        if writer is not None:
            writer.close(result is not None and result.success)
    row = result.to_dict() | {'decision_ms': result.decision_ms,
                              'blocks': list(env.spec.block_colours)}
    if _WORKER['loops'] is not None:
        row['loops_broken'] = _WORKER['loops'].broken
    if getattr(policy, 'stats', None) is not None:
        row['probe'] = policy.stats
    if getattr(policy, 'trace', None) is not None:
        row['trace'] = policy.trace
    return row


def evaluate_in_sim(policy_spec, task_ids, episodes, seed=0, instructions=None, workers=1,
                    video_dir=None, video_episodes=1, image_size=None, progress=True,
                    probe=False, stuck='observe', trace=False, loops='on'):
    """Run ``episodes`` per task; returns the summary dict (see module docstring).

    ``stuck``: 'observe', 'stop' or 'off' (see the module docstring); the summary gains
    ``stuck`` (how often the detector fired on successful and on failed episodes).

    ``loops``: 'on' (default) or 'off', the loop breaker (see the module docstring); with 'on' the
    summary gains ``loops`` (decisions it changed, episodes where it did).

    ``probe``: also measure whether the policy reads the instruction
    (evaluation.language_probe); the summary gains ``language_probe``.

    ``trace``: note the expert's decision and the gripper's state at every decision
    (evaluation.episode_trace); each episode gains ``trace`` and the summary
    ``failure_trace``.
    """
    if stuck not in STUCK_MODES:
        raise ValueError(f'stuck must be one of {", ".join(STUCK_MODES)}, got {stuck!r}')
    if loops not in LOOP_MODES:
        raise ValueError(f'loops must be one of {", ".join(LOOP_MODES)}, got {loops!r}')
    jobs = []
    for task_id in task_ids:
        wording = (instructions or {}).get(task_id)
        for i in range(episodes):
            jobs.append((task_id, seed + i, wording or None,
                         video_dir is not None and i < video_episodes))
    if video_dir:
        Path(video_dir).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    workers = max(1, min(workers, len(jobs)))
    # in worker processes, share the cores between them; in this process, leave torch alone
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    results = map_episodes(_run_one, jobs, workers, _init_worker,
                           (policy_spec, image_size, video_dir, threads, probe, stuck, trace,
                            loops),
                           'eval-sim', progress)
    summary = summarise(results, policy_spec, task_ids, seed, time.perf_counter() - start)
    if stuck != 'off':
        summary['stuck'] = summarise_stuck(results, stuck)
    if loops == 'on':
        changed = [r.get('loops_broken', 0) for r in results]
        summary['loops'] = {'decisions_changed': int(sum(changed)),
                            'episodes_changed': sum(1 for c in changed if c),
                            'episodes': len(results)}
    if probe:
        # deferred: only --probe runs use the probe
        from contrastive_vla.evaluation.language_probe import summarise_probe

        summary['language_probe'] = summarise_probe(results)
    if trace:
        # deferred: only --trace runs use the tracer
        from contrastive_vla.evaluation.episode_trace import summarise_traces

        summary['failure_trace'] = summarise_traces(results)
    return summary


def summarise(results, policy_spec, task_ids, seed, wall_s):
    per_task = {}
    for task_id in task_ids:
        rows = [r for r in results if r['task'] == task_id]
        wins = sum(r['success'] for r in rows)
        lo, hi = wilson_interval(wins, len(rows))
        per_task[task_id] = {
            'success_rate': wins / len(rows) if rows else 0.0,
            'episodes': len(rows), 'successes': wins, 'ci95': [round(lo, 4), round(hi, 4)],
            'mean_steps': float(np.mean([r['steps'] for r in rows])) if rows else 0.0}
    decisions = [ms for r in results for ms in r['decision_ms']]
    total = sum(r['success'] for r in results)
    lo, hi = wilson_interval(total, len(results))
    episodes = sorted((dict((k, v) for k, v in r.items() if k not in ('decision_ms', 'probe'))
                       for r in results), key=lambda r: (r['task'], r['seed']))
    return {
        'policy': str(policy_spec),
        'success_rate': total / len(results) if results else 0.0,
        'ci95': [round(lo, 4), round(hi, 4)],
        'episodes': len(results),
        'seed': seed,
        'per_task': per_task,
        'decision_ms': {'p50': float(np.percentile(decisions, 50)) if decisions else 0.0,
                        'p99': float(np.percentile(decisions, 99)) if decisions else 0.0},
        'wall_s': round(wall_s, 2),
        'episode_results': episodes,
    }


def summarise_stuck(results, mode):
    """How often the stuck detector fired, on successful and on failed episodes, and what
    stopping there does to the success rate (exact for 'observe': an episode that succeeded
    stays a success only if the detector did not fire before its last step)."""
    fired = [r for r in results if r.get('stuck_at') is not None]
    wins = [r for r in results if r['success']]
    kept = [r for r in wins if r.get('stuck_at') is None or r['stuck_at'] >= r['steps']]
    rules = {}
    for r in fired:
        rule = r['stuck_reason'].split(':')[0]
        rules[rule] = rules.get(rule, 0) + 1
    per_task = {}
    for r in fired:
        row = per_task.setdefault(r['task'], {'on_success': 0, 'on_failure': 0})
        row['on_success' if r['success'] else 'on_failure'] += 1
    at = [r['stuck_at'] for r in fired]
    return {
        'mode': mode, 'limits': dict(vars(StuckLimits())),
        'fired': len(fired),
        'fired_on_success': sum(r['success'] for r in fired), 'successes': len(wins),
        'fired_on_failure': sum(not r['success'] for r in fired),
        'failures': len(results) - len(wins),
        'fired_at_decision': {'min': min(at), 'median': float(np.median(at)),
                              'max': max(at)} if at else None,
        'rules': rules, 'per_task': per_task,
        'success_rate_if_stopped': len(kept) / len(results) if results else 0.0,
    }


def format_stuck(stuck):
    lines = (f'stuck detector ({stuck["mode"]}): fired on {stuck["fired_on_success"]} of '
             f'{stuck["successes"]} successful and {stuck["fired_on_failure"]} of '
             f'{stuck["failures"]} failed episodes')
    if stuck['fired_at_decision']:
        at = stuck['fired_at_decision']
        lines += (f' (after {at["min"]}..{at["max"]} decisions, median {at["median"]:g}; '
                  + ', '.join(f'{k} {v}' for k, v in sorted(stuck['rules'].items())) + ')')
    if stuck['mode'] == 'observe':
        lines += f'\nsuccess rate had it stopped the episodes: ' \
                 f'{stuck["success_rate_if_stopped"]:.1%}'
    return lines


def format_table(summary):
    lines = [f'{"task":<22} {"success":>8} {"95% CI":>15} {"episodes":>9} {"steps":>6}']
    for task_id, row in summary['per_task'].items():
        lo, hi = row['ci95']
        lines.append(f'{task_id:<22} {row["success_rate"]:>8.1%} {f"[{lo:.2f}, {hi:.2f}]":>15} '
                     f'{row["episodes"]:>9} {row["mean_steps"]:>6.1f}')
    lo, hi = summary['ci95']
    lines.append(f'{"all":<22} {summary["success_rate"]:>8.1%} {f"[{lo:.2f}, {hi:.2f}]":>15} '
                 f'{summary["episodes"]:>9}')
    return '\n'.join(lines)


def format_comparison(runs):
    """A Markdown table of several runs on the same tasks and seeds: ``runs`` is a list of
    (column label, summary); a row per task, then the whole suite with its 95% interval."""
    lines = ['| task | ' + ' | '.join(label for label, _ in runs) + ' |',
             '|---|' + '---|' * len(runs)]
    for task_id in runs[0][1]['per_task']:
        cells = [f'{s["per_task"][task_id]["success_rate"]:.0%}' for _, s in runs]
        lines.append(f'| {task_id} | ' + ' | '.join(cells) + ' |')
    cells = [f'**{s["success_rate"]:.1%}** ({s["ci95"][0]:.0%}-{s["ci95"][1]:.0%})'
             for _, s in runs]
    lines.append(f'| **all** ({runs[0][1]["episodes"]} episodes) | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
