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
from contrastive_vla.sim.env import TabletopEnv
from contrastive_vla.sim.expert import (
    PLACE_RELEASE,
    XY_TOLERANCE,
    Z_TOLERANCE,
    ScriptedExpert,
    stack_release_height,
)
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


class RecoveryPerturbation:
    """CLIP-RT recovery pairs: now and then, a deliberate wrong step before the expert acts.

    The wrong step is executed but not recorded as a training target; the expert's next
    decision (recorded, from the image after the wrong step) is the correction.
    """

    def __init__(self, probability, rng):
        self.probability = probability
        self.rng = rng
        self.count = 0

    def __call__(self, env):
        if self.probability <= 0 or self.rng.random() >= self.probability:
            return False
        axis = int(self.rng.integers(3))
        if axis == 2 and env.tcp_pose()[0][2] < 0.06:
            return False  # never push down into the table or a held block
        sign = 1.0 if self.rng.random() < 0.5 else -1.0
        action = np.zeros(7)
        action[axis] = sign * float(self.rng.choice([0.01, 0.05]))
        primitive = env.vocab.discretize(action)
        if primitive is None:
            return False
        env.step(primitive)
        self.count += 1
        return True


class _OncePerEpisode:
    """A deliberate mistake made at most once an episode, in the task families it fits: armed
    with ``probability`` when the episode starts, then ``_make(env)`` makes it at the first
    decision where the moment is right (True) or lets the decision pass (False)."""

    FAMILIES = ()

    def __init__(self, probability, rng):
        self.armed = probability > 0 and rng.random() < probability
        self.rng = rng
        self.count = 0

    def __call__(self, env):
        if not self.armed or self.count or \
                env.tasks[env.spec.task_id].family not in self.FAMILIES:
            return False
        if not self._make(env):
            return False
        self.count += 1
        return True

    def _make(self, env):
        raise NotImplementedError

    @staticmethod
    def _move(env, delta):
        """A raw translation in legs of at most 0.2 m (the largest step a primitive makes)."""
        delta = np.asarray(delta, dtype=np.float64)
        legs = max(1, int(np.ceil(np.max(np.abs(delta)) / 0.2)))
        for _ in range(legs):
            action = np.zeros(8)
            action[:3] = delta / legs
            env.step(action)

    def _release_at(self, env, xy, height):
        """Raw motion: across to ``xy`` at the current height, down to ``height``, let go,
        back off 5 cm."""
        tcp = env.tcp_pose()[0]
        self._move(env, [xy[0] - tcp[0], xy[1] - tcp[1], 0.0])
        self._move(env, [0.0, 0.0, height - env.tcp_pose()[0][2]])
        env.step(np.array([0, 0, 0, 0, 0, 0, 0, 1.0]))  # let go
        self._move(env, [0.0, 0.0, 0.05])


class Misplacement(_OncePerEpisode):
    """A deliberate wrong release in a carry task (place, stack), once per episode: the held
    block is carried to a decoy and let go there; then the expert (recorded) fetches it back.

    Policies let go in the wrong place (the other zone, the wrong block) and the expert alone
    never does, so without this a policy has never seen what to do next. The decoy is the
    other zone (place) or another block (stack) half the time, so the states after it are
    exactly the confusions to correct, and a random spot on the table otherwise. The detour
    is raw motion, executed but not recorded.
    """

    CARRY_MIN_HEIGHT = 0.09  # the block is carried (not still being lifted) above this
    FAMILIES = ('place', 'stack')

    def _make(self, env):
        family = env.tasks[env.spec.task_id].family
        state = env.scene_state()
        binding = env.spec.binding
        if not state.grasped(binding['block']) or \
                state.tcp_position[2] < self.CARRY_MIN_HEIGHT or self.rng.random() < 0.5:
            return False  # (at a random point of the carry)
        decoy, release = self._decoy(env, state, binding, family)
        if decoy is None:
            return False
        self._release_at(env, decoy, release)
        return True

    def _decoy(self, env, state, binding, family):
        scene = env.cfg['scene']
        if self.rng.random() < 0.5:
            if family == 'place':  # the expert's release heights (sim.expert)
                others = [z.position for c, z in state.zones.items() if c != binding['zone']]
            else:
                others = [b.position for c, b in state.blocks.items()
                          if c not in (binding['block'], binding['base'])]
            if others:
                spot = np.asarray(others[int(self.rng.integers(len(others)))], np.float64)
                release = PLACE_RELEASE if family == 'place' else \
                    stack_release_height(state, spot)
                return spot[:2], release
        lo, hi = np.asarray(scene['spawn_lower']), np.asarray(scene['spawn_upper'])
        target = (state.zones[binding['zone']].position if family == 'place'
                  else state.blocks[binding['base']].position)[:2]
        for _ in range(20):  # a table spot clear of the target
            xy = self.rng.uniform(lo[:2], hi[:2])
            if np.linalg.norm(xy - target) > 0.1:
                return xy, PLACE_RELEASE  # let go just above the table, as in a zone
        return None, None


class MissedGrasp(_OncePerEpisode):
    """A deliberate missed grasp in a task that grasps (lift, place, stack), once per episode:
    at the moment the expert would close the gripper, the arm is shifted 3.3-5 cm along the
    fingers' pads (x) and the gripper closed there, on nothing or on the block's edge
    (rarely it still grasps the block); half the time the arm then
    makes one more small move. The expert's next decisions (recorded) open the gripper again,
    align and grasp.

    Policies close beside the block (an alignment a pixel or two off, a block that fell when
    let go) and the expert alone never does, so a policy had never seen a closed, empty
    gripper: traced on the fast recipe's model, most failed stacks ended with the gripper
    closed on nothing and the policy saying "close" or moving about, never "open"
    (docs/model-history.md, "Missed grasps"). The shift, the close and the extra move are
    raw motion, executed but not recorded.
    """

    GRASP_REACH = 0.03  # the TCP is this close above the block's centre: the expert grasps
    FAMILIES = ('lift', 'place', 'stack')

    def _make(self, env):
        state = env.scene_state()
        colour = env.spec.binding['block']
        block = state.blocks[colour].position
        tcp = state.tcp_position
        if state.grasped(colour) or state.gripper_closed or \
                tcp[2] - block[2] > self.GRASP_REACH or \
                np.linalg.norm(tcp[:2] - block[:2]) > 0.02:
            return False  # not about to grasp
        # the fingers close along y and pull the block in: an offset along y, or of less than
        # ~3 cm along x, is still a grasp
        shift = np.zeros(8)
        shift[0] = self.rng.choice([-1.0, 1.0]) * self.rng.uniform(0.033, 0.05)
        shift[1] = self.rng.uniform(-0.012, 0.012)
        env.step(shift)
        env.step(np.array([0, 0, 0, 0, 0, 0, 0, -1.0]))  # close, beside the block
        if self.rng.random() < 0.5:
            move = np.zeros(8)
            axis = int(self.rng.integers(3))
            move[axis] = (0.05 if axis == 2 else
                          self.rng.choice([-1.0, 1.0]) * self.rng.choice([0.01, 0.05]))
            env.step(move)
        return True


class _OverTheBase(_OncePerEpisode):
    """A mistake of a stack episode's arm carrying the block over its base."""

    FAMILIES = ('stack',)
    OFFSET = (0.0, 0.0)  # how far off the base's centre (m) the arm is taken, from and to

    @staticmethod
    def _carrying(env):
        """(TCP position, base position, the expert's release height) while the task's block
        is held; None otherwise."""
        state = env.scene_state()
        binding = env.spec.binding
        if not state.grasped(binding['block']):
            return None
        base = state.blocks[binding['base']].position
        return state.tcp_position, base, stack_release_height(state, base)

    def _off_centre(self, base):
        """A random spot OFFSET away from the base's centre (xy), in a random direction."""
        angle = self.rng.uniform(0.0, 2.0 * np.pi)
        return base[:2] + self.rng.uniform(*self.OFFSET) * np.array([np.cos(angle),
                                                                      np.sin(angle)])


class OffCentreRelease(_OverTheBase):
    """A deliberate off-centre release in a stack episode, once per episode: as the held block
    arrives over the base, the arm is shifted 1.5-3.5 cm off the base's centre, lowered to the
    expert's release height and lets go, so the block slides off the base or lands tilted
    against it (sometimes it still stays on). The expert's next decisions (recorded) pick it
    up again and stack it.

    Policies let go a centimetre or two off the centre (the expert centres to 1.2 cm first)
    and the expert alone never does: traced on the fast recipe's model with the loop breaker,
    most failed stacks let go over the base but off its centre, and with the block beside the
    base the policy closed the gripper on nothing and never opened it (docs/model-history.md,
    "Off-centre releases"). The shift, the descent, the release and the back-off are raw
    motion, executed but not recorded.
    """

    ARRIVING = 0.03  # the TCP is this close (xy) to the base's centre: over the base
    OFFSET = (0.015, 0.035)

    def _make(self, env):
        carrying = self._carrying(env)
        if carrying is None:
            return False
        tcp, base, release = carrying
        if tcp[2] < release + 0.03 or np.linalg.norm(tcp[:2] - base[:2]) > self.ARRIVING:
            return False  # not over the base yet
        self._release_at(env, self._off_centre(base), release)
        return True


class Misalignment(_OverTheBase):
    """A deliberate misalignment over the base in a stack episode, once per episode: as the
    held block is centred over the base, either still at carrying height (about to descend) or
    already lowered to the release height (about to let go; it is first raised to just above
    it), the arm is shifted 1.3-2.5 cm off the base's centre, still holding the block. The
    expert's next decisions (recorded) centre it again (from the release height: up first, then
    across, then down) and only then let go.

    The expert centres to 0.8 cm before it descends, so the demonstrations hold few states a
    centimetre or two off the centre with the block held over the base, and none where the
    answer is "not yet": traced on the fast recipe's model, every failed stack let go 1.4-3.1 cm
    off the centre, the block fell beside the base, and the gripper then mostly closed on
    nothing (docs/model-history.md, "Misalignments over the base"). The shift is raw motion,
    executed but not recorded.
    """

    OFFSET = (0.013, 0.025)
    CLEARANCE = 0.005  # lowered: the TCP this far above the release height for the shift

    def __init__(self, probability, rng):
        super().__init__(probability, rng)
        self.lowered = bool(self.rng.random() < 0.5)  # the moment: at release height or above

    def _make(self, env):
        carrying = self._carrying(env)
        if carrying is None:
            return False
        tcp, base, release = carrying
        if np.linalg.norm(tcp[:2] - base[:2]) > XY_TOLERANCE:
            return False  # not centred over the base
        if (tcp[2] - release > Z_TOLERANCE) == self.lowered:
            return False  # not at the moment chosen for this episode
        spot = self._off_centre(base)
        # lowered, the held block may rest on the base: clear it first, so the shift moves the
        # arm and not the block in the fingers
        rise = max(0.0, release + self.CLEARANCE - tcp[2]) if self.lowered else 0.0
        self._move(env, [spot[0] - tcp[0], spot[1] - tcp[1], rise])
        return True


# The deliberate mistakes an episode may have, each made at most once and corrected by the
# expert: option name (collect's keyword, the CLI's --option-name) -> (class, rng stream,
# summary key counting them). They are tried in this order at each decision.
MISTAKES = {
    'miss_grasp': (MissedGrasp, 43, 'missed_grasps'),
    'misplace': (Misplacement, 31, 'misplacements'),
    'off_centre': (OffCentreRelease, 47, 'off_centre_releases'),
    'misalign': (Misalignment, 53, 'misalignments'),
}


def check_mistakes(mistakes):
    """``mistakes`` ({option: probability}) with every option known and every probability in
    [0, 1]; ValueError (one line) otherwise."""
    for name, value in mistakes.items():
        if name not in MISTAKES:
            raise ValueError(f'unknown mistake {name!r}; known: {", ".join(MISTAKES)}')
        if not 0.0 <= value <= 1.0:
            raise ValueError(f'{name} is a probability in [0, 1], got {value}')
    return dict(mistakes)


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
