"""A fuzz and fault campaign against the live graph: hostile messages in, the arm's commands
judged against the arm's limits.

:class:`HostileMessages` makes random, garbage, boundary and plausible-but-wrong messages for
every topic the graph takes from outside (``FUZZED``: every subscription of the four sim-graph
nodes in ``qos.ENDPOINTS`` except ``/clock``, the graph's own latched topics in
``qos.OURS_ONLY`` and the arm's commands, which are what is judged).
:class:`CommandChecker` watches what reaches the arm (``joint_trajectory``, ``servo_twist``,
``gripper_command``) and judges each command by the arm description alone (config/sim.yaml:
joint position and velocity limits, the workspace box by forward kinematics, the speed caps,
the finger range), not by the bridge's internals: the velocity into a trajectory's first point
is measured from the arm's real joint state (the simulator's, told apart from the campaign's
own ``joint_states`` by their ``FUZZ_FRAME`` frame id; the nearest of its last six, less 0.03 rad
of latency). During an e-stop the campaign raised
(after ``grace`` s for delivery, until it releases it) every command but a hold (a one-point
trajectory where the arm is, a zero twist) is an ignored stop; and a real joint still faster
than ``MOVING`` 0.5 s later counts as a stop the arm did not obey (``stops_arm_kept_moving``,
e.g. a hold that never came). :class:`FuzzCampaign` sends the stream at a fixed rate with
e-stop windows interleaved (the first half without ``joint_states``, so the arm moves; the
second half with it) and collects the figures (``RESULT_KEYS``); ``test/ros/test_fuzz_graph.py``
runs a short one and ``contrastive-vla bench --only fuzz`` a long one (:func:`bench_fuzz`).
"""

from collections import Counter, deque
import json
import threading
import time

from geometry_msgs.msg import TwistStamped
import numpy as np
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, Float64MultiArray, MultiArrayDimension, String
from trajectory_msgs.msg import JointTrajectory

from contrastive_vla.core.topics import topic
from contrastive_vla.robot import kinematics as kin
from contrastive_vla.robot.description import load_arm_config
from contrastive_vla.robot.mjcf import arm_model, import_mujoco
from contrastive_vla.ros import messages, qos

FUZZ_FRAME = 'fuzz'  # the frame id of the campaign's own joint_states
MOVING = 0.05  # rad/s: a joint this fast 0.5 s after an e-stop's grace has not stopped
# topic key -> (message class, publisher QoS profile name in qos.PROFILES)
FUZZED = {
    'instruction': (String, 'default'), 'estop': (Bool, 'default'),
    'primitive_delta': (Float64MultiArray, 'default'), 'joint_states': (JointState, 'default'),
    'image': (Image, 'sensor_publisher'), 'camera_info': (CameraInfo, 'sensor_publisher'),
    'episode_request': (String, 'default'), 'vla_status': (String, 'default'),
    'primitive_status': (String, 'default'),
}
RESULT_KEYS = ('messages', 'sent', 'unsendable', 'seconds', 'rate_per_s', 'crashes', 'dead_nodes',
               'commands', 'limit_violations', 'violations', 'stop_windows', 'ignored_stops',
               'ignored_stop_commands', 'stops_arm_kept_moving', 'arm_travel_rad',
               'max_arm_speed_in_stops',
               'max_arm_speed_in_stops_at')

_STOP = ['stop', 'STOP!', 'please stop', 'emergency stop', 'e-stop', 'no, stop!', "don't move",
         'STOP\x07', 'halt\x1b[0m', 'stop ' + 'now ' * 80]
_RELEASE = ['continue', 'resume', 'go on', 'wait', 'abort', 'no no no', 'ok']
_TASKS = ['touch the red block', 'move to the left', 'pick up the green block',
          'push the blue block forward', 'move up', 'open the gripper', 'close the gripper',
          'rotate the gripper clockwise', 'reach the blue block', 'move down 5 cm']
_JUNK = ['', ' ', '\t\n', '{}', '[]', 'null', 'NaN', '-Infinity', '1e400', '9' * 400,
         '{"a":' * 50, '[' * 5000, ']' * 10, '"' * 100, '\\u0000', 'éè ünïcödé 中文 🤖',
         '\x1b[2J\x1b[H', '\u202eevil', 'a' * 70000, 'ÃƒÂ©tÃ©', '\ufeffstop']


def _uniq_rng(seed):
    return np.random.default_rng(seed)


class HostileMessages:
    """Random hostile messages per topic key (``make(key)``), reproducible from ``seed``."""

    def __init__(self, seed, arm_cfg, now_msg):
        self.rng = _uniq_rng(seed)
        self.robot = arm_cfg['robot']
        self.names = list(self.robot['joint_names'])
        self.all_names = self.names + list(self.robot.get('gripper_joint_names', []))
        self.lower = np.asarray(self.robot['joint_lower'], float)
        self.upper = np.asarray(self.robot['joint_upper'], float)
        self.now_msg = now_msg      # () -> builtin_interfaces Time of "now"
        self.real_q = None          # the arm's real joints, for plausible-but-wrong states
        self.decision = 10_000

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def number(self):
        r = self.rng.random()
        if r < 0.3:
            return float(self.pick([np.nan, np.inf, -np.inf, 1e308, -1e308, 5e-324, -0.0,
                                    2.0**63, -2.0**63, 1e-9]))
        return float(self.rng.normal(0, 10.0 ** int(self.rng.integers(-3, 4))))

    def numbers(self, n):
        return [self.number() for _ in range(n)]

    def text(self):
        r = self.rng.random()
        if r < 0.45:
            return self.pick(_JUNK)
        if r < 0.7:
            codes = self.rng.integers(1, 0xD7FF, int(self.rng.integers(1, 300)))
            return ''.join(map(chr, codes))
        return json.dumps({'decision': int(self.rng.integers(-5, 2**40)),
                           'status': self.pick(['done', 'halted', 'refused', 'x' * 300, None]),
                           'state': self.pick(['deciding', 'stopped', 'stuck', 7]),
                           'latency_ms': self.number() if self.rng.random() < 0.5 else 'NaN'})

    def make(self, key):
        return getattr(self, f'_{key}')()

    # ---- per topic ---------------------------------------------------------------------------
    def _instruction(self):
        r = self.rng.random()
        text = (self.pick(_STOP) if r < 0.05 else self.pick(_RELEASE) if r < 0.12
                else self.pick(_TASKS) if r < 0.4 else self.text())
        return String(data=text)

    def _estop(self):
        return Bool(data=bool(self.rng.random() < 0.2))  # short stops, releases, duplicates

    def _primitive_delta(self):
        r = self.rng.random()
        dims = []
        if r < 0.45:  # plausible: a small step on one axis, or a gripper command
            data = [0.0] * 8
            axis = int(self.rng.integers(8))
            data[axis] = (float(self.pick([-1.0, 1.0])) if axis == 7 else
                          float(self.rng.choice([-1, 1]) * self.rng.uniform(0.005, 0.3)))
            self.decision += 1
            dims.append(MultiArrayDimension(label='decision', size=self.decision, stride=0))
        elif r < 0.55:
            data = self.numbers(int(self.pick([0, 1, 7, 9, 64])))
        elif r < 0.6:
            data = [self.number()] * int(self.pick([10_000, 100_000]))
        else:
            data = self.numbers(8)
        if self.rng.random() < 0.3:
            dims.append(MultiArrayDimension(label=self.pick(['decision', 'image_stamp', 'x']),
                                            size=int(self.rng.integers(0, 2**32)),
                                            stride=int(self.rng.integers(0, 2**32))))
        msg = Float64MultiArray(data=data)
        msg.layout.dim = dims
        return msg

    def _joint_states(self):
        r = self.rng.random()
        n = len(self.names)
        msg = JointState()
        msg.header = messages.header(self.now_msg(), FUZZ_FRAME)
        if r < 0.5 and self.real_q is not None:  # plausible but wrong: near the real pose
            offset = self.rng.normal(0, self.pick([0.02, 0.2, 1.0]), n)
            msg.name = list(self.names)
            msg.position = [float(v) for v in np.clip(self.real_q + offset, self.lower,
                                                      self.upper)]
            msg.velocity = [0.0] * n
        elif r < 0.65:
            msg.name = list(self.all_names)
            msg.position = self.numbers(len(self.all_names))
        elif r < 0.75:
            msg.name = [self.pick(self.all_names + ['', 'x' * 200]) for _ in range(n)]
            msg.position = self.numbers(int(self.rng.integers(0, 2 * n)))
        elif r < 0.78:
            size = int(self.pick([10_000, 50_000]))
            msg.name = [f'j{i}' for i in range(size)]
            msg.position = [0.0] * size
        else:
            msg.name = list(self.names)
            msg.position = self.numbers(int(self.pick([n, n, 0, 3, n + 2])))
            msg.velocity = self.numbers(int(self.pick([0, n, 1])))
        return msg

    def _image(self):
        r = self.rng.random()
        stamp = self.now_msg()
        if r < 0.15:
            stamp.sec = int(self.pick([0, stamp.sec + 3600, max(0, stamp.sec - 3600),
                                       2**31 - 1]))
        h, w = (int(v) for v in self.rng.integers(1, 240, 2))
        enc = self.pick(['rgb8', 'rgb8', 'bgr8', 'mono8', 'yuv422', '16UC1', 'rgba8', '',
                         'jpeg', 'x' * 300])
        channels = {'mono8': 1, '16UC1': 2, 'rgba8': 4, 'yuv422': 2}.get(enc, 3)
        step, size = w * channels, h * w * channels
        if r < 0.3:
            step = int(self.pick([0, step - 1, step + 7, 2**31]))
        elif r < 0.4:
            size = int(self.pick([0, 1, size - 1, size * 2]))
        elif r < 0.45:
            h, w = int(self.pick([0, 100_000, 2**31])), int(self.pick([0, 1, 100_000]))
        data = self.rng.integers(0, 256, max(0, min(size, 2_000_000)), dtype=np.uint8)
        return Image(header=messages.header(stamp, 'camera'), height=h, width=w, encoding=enc,
                     is_bigendian=int(self.rng.integers(0, 2)), step=step,
                     data=data.tobytes())

    def _camera_info(self):
        msg = CameraInfo()
        msg.header = messages.header(self.now_msg(), 'camera')
        msg.height, msg.width = (int(v) for v in self.rng.integers(0, 5000, 2))
        msg.k = self.numbers(9)
        msg.d = self.numbers(int(self.rng.integers(0, 20)))
        msg.distortion_model = self.pick(['plumb_bob', '', 'x' * 100])
        return msg

    def _episode_request(self):
        r = self.rng.random()
        if r < 0.5:
            return String(data=self.text())
        request = {'task': self.pick(['reach_block', 'nope', 5, None, ['x'], 'x' * 500]),
                   'seed': self.pick([-1, 2**63, 10**40, 'seven', 1.5, None]),
                   'instruction': self.pick([7, None, ['a'], {'b': 1}])}
        if request['task'] == 'reach_block' and self.rng.random() < 0.5:
            request['seed'] = -3  # never a valid request: resets would teleport the arm
        return String(data=json.dumps(request))

    def _vla_status(self):
        return String(data=self.text())

    def _primitive_status(self):
        return String(data=self.text())


class CommandChecker:
    """Judges the arm's commands against the arm description; thread-safe callbacks."""

    def __init__(self, arm_cfg, grace=0.5, slack=0.03, hold_tolerance=0.05):
        robot, control, box = arm_cfg['robot'], arm_cfg['control'], arm_cfg['workspace']
        self.names = list(robot['joint_names'])
        self.lower = np.asarray(robot['joint_lower'], float)
        self.upper = np.asarray(robot['joint_upper'], float)
        self.velocity = np.asarray(robot['joint_velocity'], float)
        self.box = (np.asarray(box['lower'], float), np.asarray(box['upper'], float))
        self.finger = sorted((robot['finger_closed'], robot['finger_open']))
        self.speeds = (control['max_linear_speed'], control['max_angular_speed'])
        mj = import_mujoco()
        self.kin = kin.ArmKinematics(mj, arm_model(arm_cfg, mj), self.names, self.lower,
                                     self.upper)
        self.grace, self.slack, self.hold_tolerance = grace, slack, hold_tolerance
        self.lock = threading.Lock()
        self.q = None
        self.recent = deque(maxlen=6)  # the arm's last states (0.24 s at 25 Hz)
        self.travel = 0.0
        self.windows = []            # [raised_at, released_at or None]
        self.counts = Counter()
        self.violations = []         # descriptions, in order
        self.ignored = {}            # window index -> commands in it
        self.stop_speed = (0.0, '', 0.0)  # rad/s, joint, s after the e-stop was raised
        self.moving_in = set()       # e-stop windows in which the arm still moved

    # ---- the arm and the campaign's e-stop ---------------------------------------------------
    def on_joint_state(self, msg):
        if msg.header.frame_id == FUZZ_FRAME:
            return
        by_name = dict(zip(msg.name, msg.position))
        if not all(n in by_name for n in self.names):
            return
        q = np.array([by_name[n] for n in self.names], float)
        vel = dict(zip(msg.name, msg.velocity))
        speed, joint = max(((abs(vel.get(n, 0.0)), n) for n in self.names), default=(0, ''))
        now = time.monotonic()
        with self.lock:
            if self.q is not None:
                self.travel += float(np.sum(np.abs(q - self.q)))
            self.q = q
            self.recent.append(q)
            window = self._stopped(now)
            if window is not None and now - self.windows[window][0] < self.grace + 0.5:
                window = None  # not yet: the arm has 0.5 s after the grace to come to rest
            if window is not None and speed > MOVING:
                self.moving_in.add(window)
            if window is not None and speed > max(self.stop_speed[0], 1e-3):
                self.stop_speed = (speed, joint, now - self.windows[window][0])

    def raise_stop(self):
        with self.lock:
            if not self.windows or self.windows[-1][1] is not None:
                self.windows.append([time.monotonic(), None])

    def release_stop(self):
        with self.lock:
            if self.windows and self.windows[-1][1] is None:
                self.windows[-1][1] = time.monotonic()

    def _stopped(self, t):
        """Index of the e-stop window that holds at ``t`` (after the grace), or None."""
        for i in range(len(self.windows) - 1, -1, -1):
            raised, released = self.windows[i]
            if raised + self.grace <= t and (released is None or t <= released):
                return i
        return None

    def _judge(self, kind, problems, hold, what):
        t = time.monotonic()
        with self.lock:
            self.counts[kind + ('_hold' if hold else '')] += 1
            for p in problems:
                self.violations.append(f'{kind}: {p}')
            window = self._stopped(t)
            if window is not None and not hold:
                self.ignored.setdefault(window, []).append(f'{kind} {what}')

    # ---- commands --------------------------------------------------------------------------
    def on_trajectory(self, msg):
        with self.lock:
            recent = list(self.recent)
        problems = []
        hold = False
        index = {n: i for i, n in enumerate(msg.joint_names)}
        if sorted(index) != sorted(self.names):
            problems.append(f'joint names {list(msg.joint_names)[:8]}')
            return self._judge('joint_trajectory', problems, False, 'with bad names')
        order = [index[n] for n in self.names]
        try:
            points = np.array([[p.positions[i] for i in order] for p in msg.points], float)
        except IndexError:
            problems.append('a point with too few positions')
            return self._judge('joint_trajectory', problems, False, 'malformed')
        times = np.array([p.time_from_start.sec + p.time_from_start.nanosec * 1e-9
                          for p in msg.points])
        if len(points) == 0:
            return self._judge('joint_trajectory', problems, True, 'empty')
        if not np.all(np.isfinite(points)):
            problems.append('non-finite positions')
            return self._judge('joint_trajectory', problems, False, 'non-finite')
        # the arm as the bridge may have seen it: the recent real state nearest the start
        q_real = min(recent, key=lambda q: float(np.max(np.abs(points[0] - q))),
                     default=None)
        lo = np.min(points - self.lower, axis=0)
        hi = np.max(points - self.upper, axis=0)
        if np.any(lo < -1e-6) or np.any(hi > 1e-6):
            problems.append(f'outside joint limits by {max(-lo.min(), hi.max()):.4f} rad')
        if np.any(np.diff(times) <= 0) or times[0] <= 0:
            problems.append(f'times not increasing from > 0: {times[:4].tolist()}')
        else:
            starts = np.vstack([points[:1] if q_real is None else q_real[None], points[:-1]])
            steps = np.abs(points - starts)
            steps[0] = np.maximum(steps[0] - self.slack, 0.0)  # a tick of state latency
            speed = steps / np.diff(np.concatenate([[0.0], times]))[:, None]
            ratio = float(np.max(speed / self.velocity))
            if ratio > 1.001:
                k, j = np.unravel_index(np.argmax(speed / self.velocity), speed.shape)
                where = 'from the real arm to point 0' if k == 0 else f'into point {k}'
                problems.append(f'joint {self.names[j]} at {speed[k, j]:.2f} rad/s {where} '
                                f'({ratio:.2f}x its limit)')
        hold = (len(points) == 1 and q_real is not None
                and float(np.max(np.abs(points[0] - q_real))) <= self.hold_tolerance)
        if not hold:
            # never out of the box, or further out than the arm already is
            already = 0.0 if q_real is None else self._outside(q_real)
            outside = max(self._outside(q) for q in points)
            if outside > already + 2e-3:
                problems.append(f'TCP {outside * 100:.1f} cm outside the workspace box'
                                + (f' (the arm: {already * 100:.1f} cm)' if already else ''))
        self._judge('joint_trajectory', problems, hold, f'of {len(points)} point(s)')

    def _outside(self, q):
        pos, _ = self.kin.fk(q)
        return max(0.0, float(np.max(self.box[0] - pos)), float(np.max(pos - self.box[1])))

    def on_twist(self, msg):
        lin = np.array([msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z])
        ang = np.array([msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z])
        problems = []
        if not (np.all(np.isfinite(lin)) and np.all(np.isfinite(ang))):
            problems.append('non-finite twist')
        else:
            if np.linalg.norm(lin) > self.speeds[0] * 1.001:
                problems.append(f'linear {np.linalg.norm(lin):.3f} m/s')
            if np.linalg.norm(ang) > self.speeds[1] * 1.001:
                problems.append(f'angular {np.linalg.norm(ang):.3f} rad/s')
        hold = not problems and not np.any(lin) and not np.any(ang)
        self._judge('servo_twist', problems, hold, 'non-zero')

    def on_gripper(self, msg):
        values = np.asarray(msg.data, float)
        problems = []
        if values.size not in (1, 2) or not np.all(np.isfinite(values)):
            problems.append(f'finger targets {values[:4].tolist()}')
        elif np.any(values < self.finger[0] - 1e-6) or np.any(values > self.finger[1] + 1e-6):
            problems.append(f'finger target {values.tolist()} outside {self.finger}')
        self._judge('gripper_command', problems, False, 'finger target')

    def result(self):
        with self.lock:
            ignored = sorted(self.ignored.items())
            return {
                'commands': dict(sorted(self.counts.items())),
                'limit_violations': len(self.violations),
                'violations': self.violations[:20],
                'stop_windows': sum(1 for r, e in self.windows
                                    if e is None or e - r > self.grace),
                'ignored_stops': len(ignored),
                'ignored_stop_commands': [f'stop {i}: {cmds[:3]} ({len(cmds)} command(s))'
                                          for i, cmds in ignored[:10]],
                'stops_arm_kept_moving': len(self.moving_in),
                'arm_travel_rad': round(self.travel, 3),
                'max_arm_speed_in_stops': round(self.stop_speed[0], 4),
                'max_arm_speed_in_stops_at': (f'{self.stop_speed[1]}, {self.stop_speed[2]:.2f} s '
                                              'after the e-stop' if self.stop_speed[1] else ''),
            }


class FuzzCampaign:
    """Publishers for every fuzzed topic and the checker's subscriptions on ``node`` (an rclpy
    node spun elsewhere, e.g. a :class:`~contrastive_vla.ros.runtime.SpunNode`'s)."""

    def __init__(self, node, arm_cfg=None, seed=0, grace=0.5, topics=None):
        self.node = node
        self.arm_cfg = arm_cfg or load_arm_config()
        self.checker = CommandChecker(self.arm_cfg, grace=grace)
        self.rng = _uniq_rng(seed + 1)
        self.hostile = HostileMessages(seed, self.arm_cfg,
                                       lambda: node.get_clock().now().to_msg())
        self.topics = list(topics or FUZZED)  # what is fuzzed (the e-stop always sent)
        # joint_states gets its publisher only for the second half of a run (_publisher): a
        # bridge may rightly refuse to plan while a second joint-state publisher exists, and
        # the first half must see the arm move to judge its commands
        self.pubs = {key: self._publisher(key) for key in FUZZED
                     if key != 'joint_states'
                     and (key in self.topics or key in ('instruction', 'estop'))}
        self.heard = Counter()
        reliable = qos.command(50)
        node.create_subscription(JointState, topic('joint_states').name,
                                 self.checker.on_joint_state, reliable)
        node.create_subscription(JointTrajectory, topic('joint_trajectory').name,
                                 self.checker.on_trajectory, reliable)
        node.create_subscription(TwistStamped, topic('servo_twist').name,
                                 self.checker.on_twist, reliable)
        node.create_subscription(Float64MultiArray, topic('gripper_command').name,
                                 self.checker.on_gripper, reliable)
        node.create_subscription(String, topic('vla_status').name,
                                 lambda _m: self.heard.update(['vla_status']), 10)

    def _publisher(self, key):
        cls, profile = FUZZED[key]
        return self.node.create_publisher(cls, topic(key).name, qos.PROFILES[profile])

    def wait_ready(self, timeout, check=lambda: None):
        """Until every fuzzed topic has a subscriber in the graph (the probe's own not counted
        where it subscribes), the arm's joint states and a VLA heartbeat arrived."""
        deadline = time.monotonic() + timeout
        inputs = [k for k in FUZZED if k not in ('camera_info',)]
        while time.monotonic() < deadline:
            check()
            own = {'joint_states': 1, 'vla_status': 1}
            if (all(self.node.count_subscribers(topic(k).name) > own.get(k, 0) for k in inputs)
                    and self.checker.q is not None and self.heard['vla_status']):
                return
            time.sleep(0.1)
        raise TimeoutError(f'the graph was not ready within {timeout:.0f} s (subscribers on '
                           f'{", ".join(inputs)}, joint states, a VLA heartbeat)')

    def _send(self, key, msg, sent, unsendable):
        try:
            self.pubs[key].publish(msg)
        except Exception:  # noqa: BLE001 - a value rclpy cannot serialize is not sent
            unsendable[key] += 1
            return
        sent[key] += 1

    def run(self, count, seconds, dead=lambda: {}, stop_every=(1.5, 3.5),
            stop_hold=(1.0, 2.0), task='touch the red block'):
        """Send ``count`` hostile messages over ``seconds`` with e-stop windows interleaved;
        ``dead()`` -> {node: exit code} of graph nodes that died. Returns the figures."""
        sent, unsendable = Counter(), Counter()
        phases = [[k for k in self.topics if k != 'joint_states'], self.topics]
        # the second half: a joint-state publisher that says the arm is elsewhere, often
        share = {'estop': 0.4, 'camera_info': 0.6, 'instruction': 0.6, 'joint_states': 3.0}
        weights = [np.array([share.get(k, 1.0) for k in keys]) for keys in phases]
        say = self.pubs['instruction']
        say.publish(String(data=task))  # a real task first: the arm moves while fuzzed
        began = time.monotonic()
        next_stop = began + self.rng.uniform(*stop_every)
        release_at = None
        for i in range(count):
            now = time.monotonic()
            wait = began + i * seconds / count - now
            if wait > 0:
                time.sleep(wait)
                now = time.monotonic()
            if release_at is None and now >= next_stop:
                for _ in range(2):
                    self._send('estop', Bool(data=True), sent, unsendable)
                self.checker.raise_stop()
                release_at = now + self.rng.uniform(*stop_hold)
            elif release_at is not None and now >= release_at:
                self.checker.release_stop()
                self._send('estop', Bool(data=False), sent, unsendable)
                say.publish(String(data=task))
                release_at, next_stop = None, now + self.rng.uniform(*stop_every)
            phase = int(i >= count // 2)
            if phase and 'joint_states' in self.topics and 'joint_states' not in self.pubs:
                self.pubs['joint_states'] = self._publisher('joint_states')
            keys, w = phases[phase], weights[phase]
            key = keys[int(self.rng.choice(len(keys), p=w / w.sum()))]
            with self.checker.lock:
                self.hostile.real_q = self.checker.q
            msg = self.hostile.make(key)
            if key == 'estop' and release_at is not None:
                msg.data = True  # inside a window the campaign's stop stays raised
            self._send(key, msg, sent, unsendable)
        if release_at is not None:
            self.checker.release_stop()
            self._send('estop', Bool(data=False), sent, unsendable)
        elapsed = time.monotonic() - began
        time.sleep(1.0)  # commands in flight
        died = dict(dead())
        return {
            'messages': sum(sent.values()), 'sent': dict(sorted(sent.items())),
            'unsendable': dict(sorted(unsendable.items())), 'seconds': round(elapsed, 1),
            'rate_per_s': round(sum(sent.values()) / max(elapsed, 1e-9), 1),
            'crashes': len(died), 'dead_nodes': died, **self.checker.result(),
        }


def bench_fuzz(model='clip_rt_default', count=10_000, seconds=60.0, seed=0, python=None,
               ready_timeout=180.0):
    """The long campaign on the ``sim`` profile (four node processes, ``model``): JSON-ready
    figures (``RESULT_KEYS`` plus the model, seed and node log tails of dead nodes)."""
    # deferred: only the bench starts a graph; the test wires its own processes
    import tempfile

    from contrastive_vla.ros.launcher import GraphProcesses
    from contrastive_vla.ros.runtime import SpunNode

    with tempfile.TemporaryFile('w+') as log:
        processes = GraphProcesses('sim', {'model': model}, python=python, output=log)
        spun = None
        try:
            processes.start()
            spun = SpunNode('fuzz_campaign')
            campaign = FuzzCampaign(spun.node, seed=seed)
            spun.start()
            campaign.wait_ready(ready_timeout, processes.check)
            time.sleep(1.0)
            result = campaign.run(count, seconds, dead=processes.dead)
        finally:
            if spun is not None:
                spun.close()
            processes.stop()
        log.seek(0)
        tail = log.read()[-3000:] if result['crashes'] else ''
    return {**result, 'model': model, 'seed': seed, 'node_log_tail': tail}
