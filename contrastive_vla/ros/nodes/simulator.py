"""The MuJoCo simulator as a robot: joint_states, the scene camera and /clock out; joint
trajectories (like a ros2_control joint_trajectory_controller) and gripper position targets in;
episode events (start, success) on ``episode``; new episodes on ``episode_request``
(JSON ``{"task": ..., "seed": ..., "instruction": optional}``).

It is the clock of the graph: it steps the physics one control tick per timer period
(``real_time_factor`` scales that), stamps everything with simulated time and publishes
``/clock``, so the other nodes run with use_sim_time.
"""


from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory

from contrastive_vla.core.topics import topic
from contrastive_vla.ros import messages, params, qos
from contrastive_vla.ros.node_parameters import NODES
from contrastive_vla.ros.runtime import (
    NodeStartupError,
    RateMeter,
    diagnostics,
    guarded,
    run_node,
    warn_by_reason,
)
from contrastive_vla.sim.controller import JointTrajectoryFollower, TrajectoryError
from contrastive_vla.sim.env import MAX_SEED, TabletopEnv


def duration_seconds(d):
    return d.sec + d.nanosec * 1e-9


class SimulatorNode(Node):
    def __init__(self):
        super().__init__('simulator')
        self.p = params.declare(self, NODES['simulator'], on_change=self.on_parameters)
        self.env = TabletopEnv(image_size=(self.p['image_height'], self.p['image_width']))
        robot = self.env.cfg['robot']
        self.follower = JointTrajectoryFollower(robot['joint_names'], robot['joint_lower'],
                                                robot['joint_upper'])
        self.cam_fov = self.env.cfg['camera']['fovy']
        self.camera_every = max(1, round(1.0 / (self.p['camera_rate'] * self.env.tick)))

        self.clock_pub = self.create_publisher(Clock, topic('clock').name, 10)
        self.joint_pub = self.create_publisher(messages.msg_class('joint_states'),
                                               topic('joint_states').name, 10)
        self.image_pub = self.create_publisher(messages.msg_class('image'), topic('image').name,
                                               qos.sensor_publisher())
        self.info_pub = self.create_publisher(messages.msg_class('camera_info'),
                                              topic('camera_info').name, qos.sensor_publisher())
        self.episode_pub = self.create_publisher(String, topic('episode').name, qos.latched())
        self.diag_pub = self.create_publisher(DiagnosticArray, topic('diagnostics').name, 10)
        self.create_subscription(JointTrajectory, topic('joint_trajectory').name,
                                 guarded(self, 'joint_trajectory', self.on_trajectory),
                                 qos.command())
        self.create_subscription(Float64MultiArray, topic('gripper_command').name,
                                 guarded(self, 'gripper_command', self.on_gripper),
                                 qos.command())
        self.create_subscription(String, topic('episode_request').name,
                                 guarded(self, 'episode_request', self.on_request),
                                 qos.command())
        self.sim_ns = 0            # monotonic simulated time across episodes
        self.ticks = 0
        self.episode = 0
        self.meter = RateMeter()
        self.rejected = 0
        self.start_episode(self.p['task'], self.p['seed'], None)
        self.step_timer = self.create_timer(self.env.tick / self.p['real_time_factor'],
                                            self.step)
        self.create_timer(1.0, self.report)

    def on_parameters(self, values, changed):
        """``ros2 param set``: a new real_time_factor re-creates the step timer."""
        if 'real_time_factor' in changed:
            self.destroy_timer(self.step_timer)
            self.step_timer = self.create_timer(self.env.tick / values['real_time_factor'],
                                                self.step)

    def sim_seconds(self):
        return self.sim_ns * 1e-9

    def stamp(self):
        return messages.time_msg(self.sim_seconds())

    # ---- episodes --------------------------------------------------------------------------
    def start_episode(self, task, seed, instruction):
        try:
            self.env.reset(task, int(seed), instruction=instruction)
        except (KeyError, ValueError, RuntimeError) as exc:
            raise NodeStartupError(f'simulator: cannot start task {task!r}: {exc}') from None
        self.follower.stop(self.env.arm_targets())
        self.episode += 1
        self.succeeded = False
        spec = self.env.spec
        event = {'event': 'start', 'episode': self.episode, 'task': spec.task_id,
                 'seed': spec.seed, 'instruction': spec.instruction,
                 'step_budget': self.env.tasks[spec.task_id].step_budget,
                 'stamp': self.sim_seconds()}
        self.episode_pub.publish(messages.json_string(event))
        self.get_logger().info(f'episode {self.episode}: {spec.task_id} seed {spec.seed}: '
                               f'{spec.instruction!r}')
        self.publish_camera()

    def on_request(self, msg):
        request, why = messages.parse_json_checked(msg)
        if request is not None:
            why = self.request_problem(request)
        if why:
            warn_by_reason(self, f'episode_request refused ({why}); it must be JSON '
                                 '{"task": ..., "seed": ..., "instruction": optional}', 2.0)
            return
        try:
            self.start_episode(request['task'], request.get('seed', 0),
                               request.get('instruction'))
        except (NodeStartupError, TypeError, ValueError) as exc:
            self.get_logger().warning(str(exc))
            self.episode_pub.publish(messages.json_string({'event': 'error',
                                                           'message': str(exc)}))

    def request_problem(self, request):
        """What is wrong with an episode request (a parsed JSON object), or None."""
        task, instruction = request.get('task'), request.get('instruction')
        if not isinstance(task, str) or task not in self.env.tasks:
            return f'unknown task {str(task)[:80]!r}; known: {sorted(self.env.tasks)}'
        if messages.bounded_int(request.get('seed', 0), 0, MAX_SEED) is None:
            return f'seed must be an integer in [0, 2**63 - 1], got {request.get("seed")!r}'
        if instruction is not None and not isinstance(instruction, str):
            return 'instruction must be a string'
        return None

    # ---- commands --------------------------------------------------------------------------
    def on_trajectory(self, msg):
        try:
            self.follower.load(msg.joint_names, [p.positions for p in msg.points],
                               [duration_seconds(p.time_from_start) for p in msg.points],
                               self.sim_seconds(), self.env.arm_targets())
        except TrajectoryError as exc:
            self.rejected += 1
            warn_by_reason(self, f'trajectory rejected: {exc}', 2.0)

    def on_gripper(self, msg):
        values = np.asarray(msg.data, dtype=np.float64)
        robot = self.env.cfg['robot']
        lo, hi = sorted((robot['finger_closed'], robot['finger_open']))
        if values.size not in (1, 2) or not np.all(np.isfinite(values)):
            warn_by_reason(self, f'gripper_command needs 1 finite position, got '
                                 f'{values.tolist()}', 2.0)
            return
        self.env.set_finger_target(float(np.clip(values[0], lo, hi)))

    # ---- the loop --------------------------------------------------------------------------
    def step(self):
        target = self.follower.target(self.sim_seconds())
        if target is not None:
            self.env.set_arm_targets(target)
        self.env.advance(1)
        self.sim_ns += int(round(self.env.tick * 1e9))
        self.ticks += 1
        self.meter.tick()
        stamp = self.stamp()
        if self.p['publish_clock']:
            self.clock_pub.publish(Clock(clock=stamp))
        q = self.env.joint_positions()
        qd = self.env.joint_velocities()
        self.joint_pub.publish(JointState(header=messages.header(stamp), name=self.env.joint_names,
                                          position=[float(v) for v in q],
                                          velocity=[float(v) for v in qd]))
        if self.ticks % self.camera_every == 0:
            self.publish_camera()
        if not self.succeeded and self.env.success():
            self.succeeded = True
            self.episode_pub.publish(messages.json_string({
                'event': 'success', 'episode': self.episode, 'task': self.env.spec.task_id,
                'seed': self.env.spec.seed, 'stamp': self.sim_seconds()}))
            self.get_logger().info(f'episode {self.episode}: success')

    def publish_camera(self):
        rgb = self.env.render()
        stamp = self.stamp()
        h, w = rgb.shape[:2]
        self.image_pub.publish(messages.image(rgb, stamp, self.p['frame_id']))
        self.info_pub.publish(messages.camera_info(
            w, h, self.cam_fov, stamp, self.p['frame_id'], vertical=True))

    def report(self):
        rate = self.meter.rate()
        target = 1.0 / self.env.tick * self.p['real_time_factor']
        self.diag_pub.publish(diagnostics(
            self, 'contrastive_vla: simulator', 'ok' if rate > 0.8 * target else 'warn',
            f'{rate / (1.0 / self.env.tick):.2f}x real time',
            {'episode': self.episode, 'task': self.env.spec.task_id,
             'sim_time_s': f'{self.sim_seconds():.2f}', 'rejected_trajectories': self.rejected}))

    def destroy_node(self):
        self.env.close()
        super().destroy_node()


def main(args=None):
    return run_node(SimulatorNode, args)


if __name__ == '__main__':
    raise SystemExit(main())
