"""The scripted expert: solves every task by saying primitives of the vocabulary, step by step.

It is reactive (each decision is made from the current privileged scene state, so it also
recovers from its own or a policy's detours) and randomised the way a person talking a robot
through a task is: it does not always move along the axis with the largest remaining error, and
sometimes takes a smaller step than it could. Every decision is a vocabulary primitive; which
one is found with ``PrimitiveVocabulary.discretize`` so the expert works with any vocabulary
that has translation steps and open/close.
"""

import numpy as np

# Heights of the tool centre point (m, table top at 0).
SAFE_HEIGHT = 0.11      # travel height above the blocks
CLEAR_HEIGHT = 0.085    # below this, do not move sideways toward a far goal
PUSH_HEIGHT = 0.018
REACH_HOVER = 0.035     # above the block centre
CARRY_HEIGHT = 0.13
LIFT_HEIGHT = 0.12      # block bottom when lifting (at least the task's height + 4 cm)
PLACE_RELEASE = 0.04    # TCP height when releasing in a zone
# How close is close enough. A policy judges these from a camera image (about 6 mm per pixel at
# the model's 128 px), so the expert aligns only as precisely as the task needs: corrections
# finer than a policy can see teach it to dither.
XY_TOLERANCE = 0.012     # grasp and stack: the gripper centred over a 4 cm block
REACH_TOLERANCE = 0.015  # per axis; success allows 3 cm
PLACE_TOLERANCE = 0.02   # zones are 11 cm squares
Z_TOLERANCE = 0.007


def stack_release_height(state, base):
    """The TCP height at which the held block is let go onto the block at ``base`` (its
    position): the base's centre plus one block and 2.2 cm."""
    return base[2] + 2 * state.block_half_size + 0.022


class ScriptedExpert:
    """Policy with privileged access to the simulator. ``act`` returns a Primitive or None."""

    name = 'expert'
    needs_images = False  # it reads the privileged scene state

    def __init__(self, rng=None, greedy_probability=0.75, smaller_step_probability=0.2):
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.greedy_probability = greedy_probability
        self.smaller_step_probability = smaller_step_probability
        self.env = None

    @classmethod
    def greedy(cls):
        """The deterministic expert: always the axis with the largest error, always the step
        nearest to the distance (one decision per state: the label the recovery data is
        recorded with, and the reference the probe and the trace compare a policy against)."""
        return cls(greedy_probability=1.0, smaller_step_probability=0.0)

    def attach(self, env):
        self.env = env

    def reset(self, task=None, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, observation=None):
        env = self.env
        state = env.scene_state()
        task = env.tasks[env.spec.task_id]
        binding = env.spec.binding
        family = task.family
        if family == 'reach':
            return self._reach(state, binding)
        if family == 'push':
            return self._push(state, binding, np.asarray(task.params['direction'], float))
        if family == 'lift':
            return self._lift(state, binding, task.params.get('height', 0.08))
        if family == 'place':
            zone = state.zones[binding['zone']].position
            return self._carry_and_release(state, binding, zone[:2], PLACE_RELEASE,
                                           PLACE_TOLERANCE)
        if family == 'stack':
            base = state.blocks[binding['base']].position
            return self._carry_and_release(state, binding, base[:2],
                                           stack_release_height(state, base))
        raise ValueError(f'the expert has no strategy for family {family!r}')

    # ---- strategies ------------------------------------------------------------------------
    def _reach(self, state, binding):
        block = state.blocks[binding['block']].position
        return self._go_to(state, np.array([block[0], block[1], block[2] + REACH_HOVER]),
                           tolerance=REACH_TOLERANCE)

    def _push(self, state, binding, direction):
        block = state.blocks[binding['block']]
        if not state.gripper_closed:
            return self._primitive(gripper=-1)  # a closed gripper is a better pusher
        tcp = state.tcp_position
        direction3 = np.array([direction[0], direction[1], 0.0])
        lateral = np.array([-direction[1], direction[0], 0.0])
        rel = tcp - block.position
        along, across = float(rel @ direction3), float(rel @ lateral)
        low = tcp[2] <= PUSH_HEIGHT + Z_TOLERANCE
        # behind the block, in line with it (in contact the pads are 3-4 cm from its centre)
        behind = -0.095 < along < (-0.02 if low else -0.045) and abs(across) < 0.013
        if not behind:
            if tcp[2] < CLEAR_HEIGHT:
                return self._step_axis(2, SAFE_HEIGHT - tcp[2])
            pre = block.position - 0.07 * direction3
            return self._go_to(state, np.array([pre[0], pre[1], tcp[2]]))
        if not low:
            return self._step_axis(2, PUSH_HEIGHT - tcp[2])
        goal = block.initial_position + 0.115 * direction3
        remaining = float((goal - block.position) @ direction3)
        axis = int(np.argmax(np.abs(direction)))
        return self._step_axis(axis, max(remaining, 0.01) * np.sign(direction[axis]))

    def _grasp(self, state, colour):
        block = state.blocks[colour].position
        tcp = state.tcp_position
        if state.gripper_closed:
            return self._primitive(gripper=1)
        grasp = np.array([block[0], block[1], max(block[2], 0.018)])
        exy = np.linalg.norm(grasp[:2] - tcp[:2])
        if exy > XY_TOLERANCE:
            if tcp[2] < CLEAR_HEIGHT and exy > 0.02:
                return self._step_axis(2, SAFE_HEIGHT - tcp[2])
            return self._go_to(state, np.array([grasp[0], grasp[1], max(tcp[2], grasp[2])]),
                               tolerance=XY_TOLERANCE / 1.5)
        if tcp[2] - grasp[2] > Z_TOLERANCE:
            return self._step_axis(2, grasp[2] - tcp[2])
        return self._primitive(gripper=-1)

    def _lift(self, state, binding, height):
        colour = binding['block']
        if not state.grasped(colour):
            return self._grasp(state, colour)
        block = state.blocks[colour].position
        goal = max(LIFT_HEIGHT, height + 0.04)  # block bottom above the table, with a margin
        return self._step_axis(2, max(goal - (block[2] - state.block_half_size), 0.01))

    def _carry_and_release(self, state, binding, target_xy, release_height,
                           tolerance=XY_TOLERANCE):
        colour = binding['block']
        block = state.blocks[colour].position
        if not state.grasped(colour):
            if np.linalg.norm(block[:2] - target_xy) < 0.02 and block[2] > 0.03:
                return self._step_axis(2, 0.05)  # released and falling/placed: back off
            return self._grasp(state, colour)
        tcp = state.tcp_position
        exy = np.linalg.norm(target_xy - tcp[:2])
        if exy > tolerance:
            if tcp[2] < CARRY_HEIGHT - 0.02:
                return self._step_axis(2, CARRY_HEIGHT - tcp[2])
            return self._go_to(state, np.array([target_xy[0], target_xy[1], tcp[2]]),
                               tolerance=tolerance / 1.5)
        if tcp[2] - release_height > Z_TOLERANCE:
            return self._step_axis(2, release_height - tcp[2])
        return self._primitive(gripper=1)

    # ---- choosing primitives ---------------------------------------------------------------
    def _go_to(self, state, goal, tolerance=0.005):
        """One translation primitive toward ``goal``: rise first, then across, then descend.

        Moving across at a constant height and descending only once above the goal keeps the
        states a camera has to judge simple (no trade-off between "further" and "lower", which
        a single oblique view cannot tell apart), and is how a person steers an arm.
        """
        error = np.asarray(goal, float) - state.tcp_position
        if error[2] >= 0.005:
            return self._step_axis(2, error[2])
        across = [i for i in (0, 1) if abs(error[i]) >= tolerance]
        if across:
            if self.rng.random() < self.greedy_probability or len(across) == 1:
                axis = max(across, key=lambda i: abs(error[i]))
            else:
                axis = int(self.rng.choice(across))
            return self._step_axis(axis, error[axis])
        axis = 2 if abs(error[2]) > 0.004 else int(np.argmax(np.abs(error[:2])))
        return self._step_axis(axis, error[axis])

    def _step_axis(self, axis, amount):
        """The primitive moving along base axis 0/1/2 by about ``amount`` metres (signed)."""
        sign = 1 if amount >= 0 else -1
        ladder = self.env.vocab.ladder('xyz'[axis], sign)
        if not ladder:
            raise ValueError(f'the vocabulary has no step along {"xyz"[axis]} ({sign:+.0f})')
        # the step nearest to the distance (overshooting by less than half a step beats
        # creeping up on it in 1 cm steps); ties go to the smaller step
        best = min(range(len(ladder)),
                   key=lambda i: (round(abs(abs(amount) - ladder[i].magnitude), 4), i))
        if best > 0 and self.rng.random() < self.smaller_step_probability:
            best -= 1
        return ladder[best]

    def _primitive(self, gripper):
        action = np.zeros(8)
        action[7] = gripper
        primitive = self.env.vocab.discretize(action)
        if primitive is None:
            raise ValueError('the vocabulary has no open/close gripper primitive')
        return primitive
