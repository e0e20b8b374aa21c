"""Demonstrations from the scripted expert, recorded as rosbag2 bags (one bag per episode).

The bags carry exactly the topics and types a real recording of the ROS graph carries
(config/topics.yaml): the camera (``sensor_msgs/Image`` rgb8 + ``CameraInfo``), the instruction
(latched ``std_msgs/String``), per step the executed primitive (canonical phrase), the sentence
a person would have said for it (a paraphrase), its 8-D delta and its outcome, joint states, and
episode events (JSON) with the outcome. Timestamps are simulation time.

Per step k the order is: observation (image, camera_info, joint_states) at t_k, then the
decision 1 ms later (supervision sentence, then primitive and primitive_delta), then
primitive_status when the motion has finished; the next observation follows. So "the primitive
executed from image k" is "the first primitive message after image k", for simulated and real
recordings alike.
"""

import dataclasses
import json
import os
from pathlib import Path
import re
import time

import numpy as np

from contrastive_vla import bag as bags
from contrastive_vla.bag import BagWriter
from contrastive_vla.core.status import Outcome
from contrastive_vla.core.topics import load_topics
from contrastive_vla.core.workers import map_episodes
from contrastive_vla.data.mistakes import MISTAKES, RecoveryPerturbation, check_mistakes
from contrastive_vla.sim.env import TabletopEnv
from contrastive_vla.sim.expert import ScriptedExpert
from contrastive_vla.sim.rollout import StepRecord, run_episode
from contrastive_vla.sim.tasks import rename_referent

DECISION_DELAY_NS = 1_000_000
RECOVERY_PROBABILITY = 0.15
STATUS_LEAD_NS = 1_000_000


def episode_name(task_id, seed):
    return f'{task_id}_s{seed:06d}'


_EPISODE_NAME = re.compile(r'^(?P<task>.+?)_s\d{6,}(?:_|$)')


def episode_task(name):
    """The task id in a bag name :func:`episode_name` made (a relabelled twin's too), or None
    for a bag named otherwise (a recording of one's own)."""
    match = _EPISODE_NAME.match(Path(str(name)).name)
    return match['task'] if match else None


class EpisodeBagRecorder:
    """Turns the episode runner's step callbacks into bag messages."""

    def __init__(self, writer, env, rng, topics=None):
        self.bags = bags
        self.writer = writer
        self.env = env
        self.rng = rng
        self.topics = topics or load_topics()
        self.frame_id = 'camera_optical_frame'
        self.steps = 0
        for key in ('image', 'camera_info', 'instruction', 'primitive', 'supervision',
                    'primitive_delta', 'primitive_status', 'joint_states', 'episode'):
            t = self.topics[key]
            writer.add_topic(t.bag_name, t.type, latched=key in ('instruction', 'episode'))

    def _write(self, key, stamp_ns, msg):
        self.writer.write(self.topics[key].bag_name, stamp_ns, msg)

    def start(self, spec, at=0.0):
        """The instruction and the episode's start event, stamped ``at`` (s)."""
        self._write('instruction', _ns(at), self.bags.string_msg(spec.instruction))
        self._write('episode', _ns(at), self.bags.string_msg(json.dumps({
            'event': 'start', 'task': spec.task_id, 'seed': spec.seed,
            'instruction': spec.instruction, 'binding': spec.binding})))

    def observation(self, obs):
        stamp = _ns(obs.time)
        bags = self.bags
        height, width = obs.image.shape[:2]
        fx, fy, cx, cy = self.env.camera_intrinsics(width, height)
        self._write('image', stamp, bags.image_msg(obs.image, stamp, self.frame_id))
        self._write('camera_info', stamp, bags.camera_info_msg(width, height, fx, fy, cx, cy,
                                                               stamp, self.frame_id))
        self._write('joint_states', stamp, bags.joint_state_msg(
            obs.joint_names, obs.joint_positions, obs.joint_velocities, None, stamp))
        return stamp

    def step(self, record, finished_time, sentence=None):
        """One runner StepRecord: the decision and, when the motion ended, its status.

        ``sentence``: what the person said (teleoperation); by default a paraphrase of the
        primitive stands in for it.
        """
        if record.primitive is None:
            return
        primitive = record.primitive
        decided = _ns(record.observation.time) + DECISION_DELAY_NS
        if sentence is None:
            sentence = primitive.texts[int(self.rng.integers(len(primitive.texts)))]
        # what the person said comes just before the primitive it was mapped to
        self._write('supervision', decided - DECISION_DELAY_NS // 2,
                    self.bags.string_msg(sentence))
        self._write('primitive', decided, self.bags.string_msg(primitive.phrase))
        self._write('primitive_delta', decided,
                    self.bags.float64_array_msg(primitive.delta, label='delta'))
        self.steps += 1
        status_time = max(decided + 1, _ns(finished_time) - STATUS_LEAD_NS)
        self._write('primitive_status', status_time, self.bags.string_msg(json.dumps({
            'primitive': primitive.phrase, 'status': record.status, 'message': record.message,
            'step': self.steps})))

    def end(self, obs, success, **extra):
        stamp = self.observation(obs)
        self._write('episode', stamp + 1, self.bags.string_msg(json.dumps({
            'event': 'end', 'success': bool(success), 'steps': self.steps, **extra})))


RELABEL_SUFFIX = '_relabel'


def relabelled_spec(env, spec, rng):
    """The episode's spec with its *second* referent (the zone of place, the base block of
    stack) renamed to another one in the scene, or None (the task has no second referent, the
    scene has no other one, or the instruction does not name its colour exactly once)."""
    needs = env.tasks[spec.task_id].needs
    second = next((r for r in ('zone', 'base') if r in needs), None)
    if second is None:
        return None
    if second == 'zone':  # any other zone ("the blue block in the blue zone" is fine)
        others = [c for c in spec.zone_colours if c != spec.binding['zone']]
    else:  # any block but the base and the one carried
        others = [c for c in spec.block_colours
                  if c not in (spec.binding['base'], spec.binding['block'])]
    if not others:
        return None
    new = others[int(rng.integers(len(others)))]
    instruction = rename_referent(spec.instruction, spec.binding[second], new)
    if instruction is None:
        return None
    return dataclasses.replace(spec, instruction=instruction,
                               binding={**spec.binding, second: new})


class RelabellingExpert:
    """The expert, which at every decision also says what it would do had the instruction
    named another zone (place) or base block (stack): hindsight relabelling.

    The demonstrations alone never show the same image with two instructions that differ in
    that one word, and a model trained on them learned to ignore it (``eval-sim --probe``: 0%
    of its carrying decisions changed when the zone was renamed). The relabelled twin of an
    episode (same images, the other instruction, the expert's decisions for it; nothing of it
    was executed) is that contrast. ``alternative`` is the last such decision, or None.
    """

    def __init__(self, expert, rng):
        self.expert = expert
        self.rng = rng
        self.name = getattr(expert, 'name', 'expert')
        self.needs_images = getattr(expert, 'needs_images', False)
        self.spec = None
        self.alternative = None

    def attach(self, env):
        self.env = env
        self.expert.attach(env)

    def reset(self, task=None, seed=None):
        self.expert.reset(task, seed=seed)
        self.spec = relabelled_spec(self.env, self.env.spec, self.rng)
        self.alternative = None

    def act(self, observation=None):
        primitive = self.expert.act(observation)
        self.alternative = None
        if self.spec is not None:
            executed, self.env.spec = self.env.spec, self.spec
            try:
                self.alternative = self.expert.act(observation)
            finally:
                self.env.spec = executed
        return primitive


def record_episode(env, expert, task_id, seed, out_dir, storage='mcap', recovery=0.0,
                   relabel=False, **mistakes):
    """Roll out the expert on (task, seed) and write the bag; returns a summary dict.

    ``recovery``: probability of a wrong step before each decision (RecoveryPerturbation);
    ``mistakes``: option -> probability that the episode has that deliberate mistake
    (MISTAKES: ``miss_grasp`` MissedGrasp, ``misplace`` Misplacement, ``off_centre``
    OffCentreRelease, ``misalign`` Misalignment), which the expert then corrects;
    ``relabel``: also write the episode's relabelled twin ``<name>_relabel`` where the task
    has a second referent (RelabellingExpert).
    """
    path = Path(out_dir) / episode_name(task_id, seed)
    rng = np.random.default_rng([seed, 17])
    start = time.perf_counter()
    if relabel:
        expert = RelabellingExpert(expert, np.random.default_rng([seed, 37]))
    twin_path = path.with_name(path.name + RELABEL_SUFFIX)
    twin = {'writer': None, 'recorder': None}
    try:
        with BagWriter(path, storage=storage) as writer:
            recorder = EpisodeBagRecorder(writer, env, rng)
            state = {'started': False}

            def on_step(record):
                if not state['started']:
                    recorder.start(env.spec)
                    state['started'] = True
                    if relabel and expert.spec is not None and not twin_path.exists():
                        twin['writer'] = BagWriter(twin_path, storage=storage).open()
                        twin['recorder'] = EpisodeBagRecorder(
                            twin['writer'], env, np.random.default_rng([seed, 41]))
                        twin['recorder'].start(expert.spec)
                recorder.observation(record.observation)
                recorder.step(record, env.now())
                if twin['recorder'] is not None and expert.alternative is not None:
                    twin['recorder'].observation(record.observation)
                    twin['recorder'].step(StepRecord(
                        record.observation, expert.alternative, Outcome.RELABELLED,
                        'the expert decision for the relabelled instruction (not executed)',
                        0.0), env.now())

            perturb = RecoveryPerturbation(recovery, np.random.default_rng([seed, 29]))
            made = {name: cls(mistakes.get(name, 0.0), np.random.default_rng([seed, stream]))
                    for name, (cls, stream, _) in MISTAKES.items()}

            def perturbations(env_):
                return any(mistake(env_) for mistake in made.values()) or perturb(env_)

            perturbing = recovery > 0 or any(p > 0 for p in mistakes.values())
            result = run_episode(env, expert, task_id, seed, on_step=on_step,
                                 perturb=perturbations if perturbing else None)
            if not state['started']:
                recorder.start(env.spec)
            recorder.end(result.final_observation, result.success)
            if twin['recorder'] is not None:
                twin['recorder'].end(result.final_observation, result.success,
                                     relabelled=True, executed_instruction=env.spec.instruction)
        if twin['writer'] is not None:  # the twin is complete only once its episode is
            twin['writer'].close()
            twin['writer'] = None
    finally:
        if twin['writer'] is not None:
            twin['writer'].abort()
    size = sum(f.stat().st_size for bag in (path, twin_path) if bag.is_dir()
               for f in bag.rglob('*') if f.is_file())
    return {'bag': path.name, 'task': task_id, 'seed': seed, 'success': result.success,
            'steps': result.steps, 'perturbations': perturb.count,
            **{key: made[name].count for name, (_, _, key) in MISTAKES.items()},
            'relabelled': twin['recorder'] is not None,
            'bytes': size,
            'seconds': time.perf_counter() - start}


# ---- collection over worker processes ----------------------------------------------------------
_WORKER = {}


AUGMENTATIONS = ('full', 'recovery', 'none')


def _augmentation(augment):
    if augment is True:
        return 'full'
    if augment is False:
        return 'none'
    if augment not in AUGMENTATIONS:
        raise ValueError(f'augment must be one of {AUGMENTATIONS}, got {augment!r}')
    return augment


def _init_worker(out_dir, storage, image_size, augment, relabel=False, mistakes=None):
    expert = ScriptedExpert() if augment == 'full' else ScriptedExpert.greedy()
    _WORKER.update(env=TabletopEnv(image_size=image_size), expert=expert, out_dir=out_dir,
                   storage=storage,
                   recovery=RECOVERY_PROBABILITY if augment != 'none' else 0.0,
                   relabel=relabel, mistakes=dict(mistakes or {}))


def _collect_one(job):
    task_id, seed = job
    return record_episode(_WORKER['env'], _WORKER['expert'], task_id, seed,
                          _WORKER['out_dir'], _WORKER['storage'], _WORKER['recovery'],
                          _WORKER['relabel'], **_WORKER['mistakes'])


def collect(task_ids, episodes_per_task, out_dir, seed=0, workers=None, storage='mcap',
            image_size=None, progress=True, augment=True, relabel=False, **mistakes):
    """Write expert demonstrations; resumable (existing complete bags are skipped).

    ``augment`` is the CLIP-RT data augmentation done where it is cheap, in the simulator:
    ``'full'`` (or True): trajectory diversification (the expert varies axis order and step
    sizes) and recovery pairs (a wrong step with probability RECOVERY_PROBABILITY, then the
    correction); ``'recovery'``: recovery pairs with a greedy, deterministic expert (one label
    per state, easier to learn); ``'none'`` (or False): the greedy expert alone.
    ``mistakes``: option -> probability that an episode has that deliberate mistake for the
    expert to correct (MISTAKES): ``misplace`` a place or stack episode's wrong release
    (Misplacement), ``off_centre`` a stack episode's release off the base's centre
    (OffCentreRelease), ``miss_grasp`` a lift, place or stack episode's missed grasp
    (MissedGrasp), ``misalign`` a stack episode's shift off the base's centre while carrying
    (Misalignment). ``relabel``: also write each place or stack episode's relabelled twin
    (RelabellingExpert).
    """
    mistakes = check_mistakes(mistakes)
    augment = _augmentation(augment)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(t, seed + i) for t in task_ids for i in range(episodes_per_task)]
    todo = [j for j in jobs if not (out / episode_name(*j) / 'metadata.yaml').exists()]
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    start = time.perf_counter()
    results = map_episodes(_collect_one, todo, workers, _init_worker,
                           (str(out), storage, image_size, augment, relabel, mistakes),
                           'collect',
                           progress)
    wall = time.perf_counter() - start
    steps = sum(r['steps'] for r in results)
    summary = {
        'episodes_requested': len(jobs), 'episodes_written': len(results),
        'episodes_skipped_existing': len(jobs) - len(todo),
        'successes': sum(r['success'] for r in results), 'steps': steps,
        'bytes': sum(r['bytes'] for r in results), 'wall_s': round(wall, 2),
        'episodes_per_minute': round(len(results) / wall * 60, 1) if results else 0.0,
        'bytes_per_step': round(sum(r['bytes'] for r in results) / steps) if steps else 0,
        'workers': workers, 'storage': storage, 'augment': augment,
        'perturbations': sum(r['perturbations'] for r in results),
        **{key: sum(r[key] for r in results) for _, _, key in MISTAKES.values()},
        'relabelled_twins': sum(r['relabelled'] for r in results),
    }
    manifest = out / 'collect_manifest.jsonl'
    with manifest.open('a', encoding='utf-8') as f:
        for r in sorted(results, key=lambda r: r['bag']):
            f.write(json.dumps(r) + '\n')
    return summary


def _ns(seconds):
    return int(round(seconds * 1e9))
