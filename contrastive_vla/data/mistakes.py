"""Deliberate mistakes made while the expert is recorded, which the expert then corrects.

``RecoveryPerturbation`` is CLIP-RT's recovery pairs (a wrong step now and then); the others are
made at most once an episode, at the moment a policy tends to make them (``MISTAKES``: a
missed grasp, a wrong release, a release off the base's centre, a held block off the base's
centre). Each is raw motion, executed but not recorded; the expert's corrections are
(``demos.record_episode``).
"""

import numpy as np

from contrastive_vla.sim.expert import (
    PLACE_RELEASE,
    XY_TOLERANCE,
    Z_TOLERANCE,
    stack_release_height,
)
from contrastive_vla.sim.tasks import release_centre


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
        target = release_centre(family, binding, state)
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
