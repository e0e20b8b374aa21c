"""The simulated robot: a MuJoCo UR5e tabletop that executes motion primitives.

``TabletopEnv`` is the single entry point of the simulator room::

    env = TabletopEnv()
    obs = env.reset('place_in_zone', seed=3)     # obs.image (HxWx3 uint8), obs.instruction
    result = env.step('move the arm to the left by five centimeters')
    env.success()

It knows nothing about ROS or models; the episode runner, the data collector and the simulator
node all drive it through ``reset``/``step``/``observe``.
"""

from dataclasses import dataclass
import math

import numpy as np

from contrastive_vla.core.delta import DeltaError, as_delta
from contrastive_vla.core.images import pinhole_intrinsics
from contrastive_vla.core.status import Outcome
from contrastive_vla.core.types import EpisodeSpec, Observation, StepResult
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.robot import kinematics as kin
from contrastive_vla.sim.rendering import import_mujoco
from contrastive_vla.sim.scene import build_mjcf, load_sim_config
from contrastive_vla.sim.tasks import TaskError, Wording, load_tasks, success

# Home orientation of the TCP: approach axis straight down, fingers opening along world y.
HOME_ROTATION = np.array([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]])
MAX_SEED = 2 ** 63 - 1


@dataclass
class BlockState:
    colour: str
    position: np.ndarray
    initial_position: np.ndarray
    yaw: float


@dataclass
class ZoneState:
    colour: str
    position: np.ndarray


@dataclass
class SceneState:
    """What the success predicates and the scripted expert may look at (privileged state)."""

    blocks: dict
    zones: dict
    tcp_position: np.ndarray
    tcp_rotation: np.ndarray
    gripper_opening: float     # metres between the finger pads
    gripper_closed: bool       # the last gripper command was 'close'
    block_half_size: float
    zone_half_size: float
    grasped_colours: frozenset

    def grasped(self, colour):
        return colour in self.grasped_colours


class TabletopEnv:
    """The tabletop simulator. Not thread-safe; one per process."""

    def __init__(self, sim_config=None, vocabulary=None, tasks=None, image_size=None):
        self.mj = import_mujoco()
        self.cfg = sim_config if isinstance(sim_config, dict) else load_sim_config(sim_config)
        self.vocab = vocabulary or PrimitiveVocabulary.load()
        self.tasks = tasks or load_tasks()
        cam = self.cfg['camera']
        self.image_size = tuple(image_size or (cam['height'], cam['width']))
        self.model = self.mj.MjModel.from_xml_string(build_mjcf(self.cfg))
        self.data = self.mj.MjData(self.model)
        robot = self.cfg['robot']
        self.arm_joints = list(robot['joint_names'])
        self.finger_joints = list(robot['gripper_joint_names'])
        self.kin = kin.ArmKinematics(self.mj, self.model, self.arm_joints,
                                     robot['joint_lower'], robot['joint_upper'])
        self._arm_qpos = self.kin.qpos_index
        self._finger_qpos = np.array([self.model.joint(n).qposadr[0]
                                      for n in self.finger_joints])
        self._joint_dof = np.array([self.model.joint(n).dofadr[0]
                                    for n in self.arm_joints + self.finger_joints])
        self._substeps = max(1, round(self.cfg['control']['tick'] /
                                      self.cfg['control']['timestep']))
        scene = self.cfg['scene']
        self._block_geoms = [self.model.geom(f'block{i}').id for i in range(scene['max_blocks'])]
        self._block_bodies = [self.model.body(f'block{i}').id for i in range(scene['max_blocks'])]
        self._block_qpos = [self.model.joint(f'block{i}_joint').qposadr[0]
                            for i in range(scene['max_blocks'])]
        self._zone_geoms = [self.model.geom(f'zone{i}').id for i in range(scene['num_zones'])]
        self._pads = {self.model.geom('left_pad').id, self.model.geom('right_pad').id}
        self.home_q = self._solve_home()
        self._renderer = None
        self.spec = None
        self.steps = 0
        self._gripper_closed = False
        self._active_blocks = []
        self._initial_positions = {}
        self.frame_callback = None  # called with the env after every control tick (videos)

    # ---- set-up ----------------------------------------------------------------------------
    def _solve_home(self):
        robot = self.cfg['robot']
        q, pos_err, rot_err = self.kin.ik(np.asarray(robot['home_tcp'], float), HOME_ROTATION,
                                          np.asarray(robot['home_joints'], float),
                                          iterations=300)
        if pos_err > 1e-3 or rot_err > 1e-2:
            raise ValueError(f'home_tcp {robot["home_tcp"]} is not reachable pointing down')
        return q

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- episodes --------------------------------------------------------------------------
    def sample_episode(self, task_id, seed, instruction=None):
        """The episode a (task, seed) pair stands for; deterministic in the seed."""
        if task_id not in self.tasks:
            raise TaskError(f'unknown task id {task_id!r}; known: {sorted(self.tasks)}')
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
                or not 0 <= int(seed) <= MAX_SEED:
            raise ValueError(f'seed must be an integer in [0, 2**63 - 1], got {seed!r}')
        task = self.tasks[task_id]
        rng = np.random.default_rng([int(seed), _stable_hash(task_id)])
        scene = self.cfg['scene']
        colours = list(scene['colours'])
        n_blocks = int(rng.integers(max(scene['min_blocks'], 2), scene['max_blocks'] + 1))
        block_colours = [str(c) for c in rng.choice(colours, size=n_blocks, replace=False)]
        zone_colours = [str(c) for c in rng.choice(colours, size=scene['num_zones'],
                                                   replace=False)]
        binding = {'block': block_colours[0], 'base': block_colours[1], 'zone': zone_colours[0]}
        said, colour_words = binding, None
        if isinstance(instruction, Wording):
            instruction, colour_words = instruction
        templates = instruction if instruction is not None else task.templates
        if isinstance(templates, str):
            templates = [templates]
        if colour_words:
            unknown = sorted(set(colour_words) - set(colours))
            if unknown:
                raise TaskError(f'colour words for {unknown}: not scene colours ({colours})')
            # drawn apart from the episode's generator: the scene is the same as with the
            # colours' own names
            words_rng = np.random.default_rng([int(seed), _stable_hash(task_id), 1])
            said = {k: str(words_rng.choice(colour_words.get(v, [v]))) for k, v in binding.items()}
        text = str(templates[int(rng.integers(len(templates)))]).format(**said)
        return EpisodeSpec(task_id, int(seed), text, binding, block_colours, zone_colours), rng

    def reset(self, task_id, seed, instruction=None):
        """Start an episode; ``instruction`` (a string, a list of templates or a tasks.Wording)
        overrides the wording."""
        spec, rng = self.sample_episode(task_id, seed, instruction)
        task = self.tasks[task_id]
        self.mj.mj_resetData(self.model, self.data)
        self.data.qpos[self._arm_qpos] = self.home_q
        self.data.ctrl[:6] = self.home_q
        self._set_gripper(open_=True)
        self.data.qpos[self._finger_qpos] = self.cfg['robot']['finger_open']
        block_xy, zone_xy = self._sample_layout(rng, task, len(spec.block_colours))
        scene = self.cfg['scene']
        colours = scene['colours']
        half = scene['block_half_size']
        self._active_blocks = []
        for i in range(scene['max_blocks']):
            adr = self._block_qpos[i]
            geom, body = self._block_geoms[i], self._block_bodies[i]
            if i < len(spec.block_colours):
                yaw = float(rng.uniform(-scene['block_yaw_range'], scene['block_yaw_range']))
                self.data.qpos[adr:adr + 3] = [block_xy[i][0], block_xy[i][1], half]
                self.data.qpos[adr + 3:adr + 7] = [math.cos(yaw / 2), 0, 0, math.sin(yaw / 2)]
                self.model.geom_rgba[geom] = list(colours[spec.block_colours[i]]) + [1.0]
                self.model.geom_contype[geom] = self.model.geom_conaffinity[geom] = 1
                self.model.body_gravcomp[body] = 0.0
                self._active_blocks.append((spec.block_colours[i], i))
            else:  # parked: invisible, intangible, floating far away
                self.data.qpos[adr:adr + 3] = [3.0 + i, 3.0, 0.5]
                self.data.qpos[adr + 3:adr + 7] = [1, 0, 0, 0]
                self.model.geom_rgba[geom][3] = 0.0
                self.model.geom_contype[geom] = self.model.geom_conaffinity[geom] = 0
                self.model.body_gravcomp[body] = 1.0
        for i, geom in enumerate(self._zone_geoms):
            self.model.geom_pos[geom] = [zone_xy[i][0], zone_xy[i][1], 0.0005]
            self.model.geom_rgba[geom] = list(colours[spec.zone_colours[i]]) + [1.0]
        self.mj.mj_forward(self.model, self.data)
        self.advance(10)  # let the blocks settle on the table
        self.spec = spec
        self.steps = 0
        self._initial_positions = {c: self.data.xpos[self._block_bodies[i]].copy()
                                   for c, i in self._active_blocks}
        return self.observe()

    def _sample_layout(self, rng, task, n_blocks):
        scene = self.cfg['scene']
        lo, hi = np.asarray(scene['spawn_lower']), np.asarray(scene['spawn_upper'])
        zone_clear = scene['zone_half_size'] + scene['block_half_size'] + 0.01
        push = np.asarray(task.params['direction'], float) if task.family == 'push' else None
        ws_lo = np.asarray(self.cfg['workspace']['lower'][:2]) + 0.04
        ws_hi = np.asarray(self.cfg['workspace']['upper'][:2]) - 0.04
        for _attempt in range(500):
            zones = [rng.uniform(lo, hi) for _ in range(scene['num_zones'])]
            if min((np.linalg.norm(a - b) for i, a in enumerate(zones)
                    for b in zones[i + 1:]), default=1.0) < 2 * scene['zone_half_size'] + 0.03:
                continue
            blocks = []
            for _ in range(n_blocks):
                for _try in range(100):
                    p = rng.uniform(lo, hi)
                    if all(np.linalg.norm(p - q) >= scene['min_separation'] for q in blocks) \
                            and all(np.max(np.abs(p - z)) >= zone_clear for z in zones):
                        blocks.append(p)
                        break
            if len(blocks) < n_blocks:
                continue
            if push is not None:
                # room to approach from behind and to push through
                behind, ahead = blocks[0] - 0.08 * push, blocks[0] + 0.14 * push
                if np.any(behind < ws_lo) or np.any(behind > ws_hi) or \
                        np.any(ahead < ws_lo) or np.any(ahead > ws_hi):
                    continue
                path = [blocks[0] + t * push for t in np.linspace(-0.1, 0.16, 14)]
                if any(np.linalg.norm(q - p) < 0.06 for q in blocks[1:] for p in path):
                    continue
            return blocks, zones
        raise RuntimeError(f'could not place {n_blocks} blocks for {task.id}')

    # ---- acting ----------------------------------------------------------------------------
    def step(self, action):
        """Execute one primitive (Primitive, name, phrase, class index or raw 8-D delta)."""
        if self.spec is None:
            raise RuntimeError('call reset() before step()')
        self.steps += 1
        primitive = None
        if isinstance(action, (np.ndarray, list, tuple)):
            delta = action  # validated by execute_delta
        else:
            try:
                primitive = self.vocab.resolve(action)
            except (KeyError, IndexError) as exc:
                return StepResult(Outcome.REJECTED, f'unknown primitive {action!r}: {exc}')
            delta = primitive.delta_array()
        result = self.execute_delta(delta)
        return StepResult(result.status, result.message, primitive, self.success())

    def execute_delta(self, delta):
        """Move by an 8-D delta: gripper commands and/or Cartesian motion. Returns MotionResult."""
        try:
            d = as_delta(delta)
        except DeltaError as exc:
            return kin.MotionResult(Outcome.REJECTED, f'invalid delta: {exc}')
        gripper = kin.gripper_command(d)
        result = kin.MotionResult(Outcome.DONE)
        if np.any(d[:7] != 0):
            q_now = self.data.qpos[self._arm_qpos].copy()
            result, waypoints = kin.plan_motion(
                self.kin, q_now, d, self.cfg['workspace'], self.cfg['control'],
                self.cfg['robot']['joint_velocity'])
            if waypoints is None:
                return result
            goal_pos, goal_rot = self.kin.fk(waypoints[-1])
            for q in waypoints:
                self.data.ctrl[:6] = q
                self.advance(1)
            self.advance(self.cfg['control']['settle_ticks'])
            why = kin.obstruction(*kin.pose_error(goal_pos, goal_rot, *self.tcp_pose()))
            if why:
                # contact held the arm back: re-target where it is, so it stops pushing
                self.data.ctrl[:6] = self.data.qpos[self._arm_qpos]
                result = kin.MotionResult(Outcome.OBSTRUCTED, f'{why} (contact)', result.ticks)
        if gripper != 0:
            self._set_gripper(open_=gripper > 0)
            self.advance(self.cfg['control']['gripper_ticks'])
        return result

    def _set_gripper(self, open_):
        robot = self.cfg['robot']
        self.set_finger_target(robot['finger_open'] if open_ else robot['finger_closed'])

    # ---- low-level control (the simulator node drives the arm like a ros2_control robot) -----
    @property
    def tick(self):
        """Seconds of simulated time per control tick."""
        return self._substeps * self.cfg['control']['timestep']

    def arm_targets(self):
        return self.data.ctrl[:6].copy()

    def set_arm_targets(self, q):
        """Joint position targets of the arm actuators (rad, arm joint order)."""
        self.data.ctrl[:6] = q

    def set_finger_target(self, position):
        """Slide position target of each finger (m); below the midpoint counts as closed."""
        robot = self.cfg['robot']
        self.data.ctrl[6:8] = position
        self._gripper_closed = position < 0.5 * (robot['finger_open'] + robot['finger_closed'])

    def advance(self, ticks=1):
        """Step the physics ``ticks`` control ticks (frame_callback after each)."""
        for _ in range(ticks):
            self.mj.mj_step(self.model, self.data, nstep=self._substeps)
            if self.frame_callback is not None:
                self.frame_callback(self)

    # ---- observing -------------------------------------------------------------------------
    def tcp_pose(self):
        site = self.kin.site
        return self.data.site_xpos[site].copy(), self.data.site_xmat[site].reshape(3, 3).copy()

    @property
    def joint_names(self):
        return self.arm_joints + self.finger_joints

    def joint_velocities(self):
        return self.data.qvel[self._joint_dof].copy()

    def joint_positions(self):
        return np.concatenate([self.data.qpos[self._arm_qpos], self.data.qpos[self._finger_qpos]])

    def render(self, camera=None, size=None):
        height, width = size or self.image_size
        if self._renderer is None or (self._renderer.height, self._renderer.width) != (
                height, width):
            if self._renderer is not None:
                self._renderer.close()
            self._renderer = self.mj.Renderer(self.model, height, width)
        self._renderer.update_scene(self.data, camera=camera or self.cfg['camera']['name'])
        return self._renderer.render().copy()

    def now(self):
        """Simulated time (s)."""
        return float(self.data.time)

    def camera_intrinsics(self, width, height):
        """fx, fy, cx, cy of the scene camera rendered at width x height."""
        return pinhole_intrinsics(width, height, self.cfg['camera']['fovy'], vertical=True)

    def observe(self, render=True):
        pos, rot = self.tcp_pose()
        return Observation(
            image=self.render() if render else None,
            joint_names=self.joint_names,
            joint_positions=self.joint_positions(),
            joint_velocities=self.joint_velocities(),
            tcp_position=pos, tcp_rotation=rot,
            instruction=self.spec.instruction if self.spec else '',
            time=float(self.data.time))

    def grasped_colours(self):
        touching = {}
        for contact in self.data.contact[:self.data.ncon]:
            g1, g2 = int(contact.geom1), int(contact.geom2)
            for pad, other in ((g1, g2), (g2, g1)):
                if pad in self._pads:
                    touching.setdefault(other, set()).add(pad)
        return frozenset(colour for colour, i in self._active_blocks
                         if touching.get(self._block_geoms[i]) == self._pads)

    def scene_state(self):
        pos, rot = self.tcp_pose()
        blocks = {}
        for colour, i in self._active_blocks:
            q = self.data.xquat[self._block_bodies[i]]
            yaw = math.atan2(2 * (q[0] * q[3] + q[1] * q[2]), 1 - 2 * (q[2] ** 2 + q[3] ** 2))
            blocks[colour] = BlockState(colour, self.data.xpos[self._block_bodies[i]].copy(),
                                        self._initial_positions.get(colour), yaw)
        zones = {colour: ZoneState(colour, self.model.geom_pos[g].copy())
                 for colour, g in zip(self.spec.zone_colours, self._zone_geoms)}
        fingers = self.data.qpos[self._finger_qpos]
        scene = self.cfg['scene']
        return SceneState(blocks, zones, pos, rot, float(np.sum(fingers) + 0.014),
                          self._gripper_closed, scene['block_half_size'],
                          scene['zone_half_size'], self.grasped_colours())

    def success(self):
        if self.spec is None:
            return False
        return success(self.tasks[self.spec.task_id], self.spec.binding, self.scene_state())


def _stable_hash(text):
    """A hash of a string that does not change between processes (unlike hash())."""
    value = 0
    for ch in text.encode():
        value = (value * 131 + ch) % (2 ** 61 - 1)
    return value
