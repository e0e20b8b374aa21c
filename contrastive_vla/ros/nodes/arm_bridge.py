"""Arm-command bridge: primitive deltas -> commands a real or simulated arm understands, safely.

Modes: ``joint_trajectory`` (a ros2_control joint_trajectory_controller; IK from joint_states;
the simulator speaks this) and ``servo`` (MoveIt Servo ``TwistStamped``); the gripper gets a
position target on ``gripper_command`` (a forward_command_controller). Every command passes
the pure checks of ``control.safety`` first. The arm halts (a hold-position trajectory / a zero
twist) when the e-stop is raised, within one control tick, and when the VLA node falls silent
for ``command_timeout`` while the arm moves. With ``enable_actuation`` false nothing is sent:
the bridge logs what it would send (dry run) and reports ``dry_run``.
"""


from builtin_interfaces.msg import Duration
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
import numpy as np
from rclpy.node import Node
from std_msgs.msg import Bool, Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from contrastive_vla.control import safety
from contrastive_vla.control.arm_commands import (
    JointMotionPlanner,
    limits_from_config,
)
from contrastive_vla.control.execution import ActivePrimitive, Phase, status_of
from contrastive_vla.core.msgfields import NS_PER_S, ns_to_time_fields, seconds_to_ns
from contrastive_vla.core.status import Outcome
from contrastive_vla.core.topics import topic
from contrastive_vla.robot import kinematics as kin
from contrastive_vla.robot.description import load_arm_config
from contrastive_vla.robot.mjcf import arm_model, import_mujoco
from contrastive_vla.ros import messages, params, qos
from contrastive_vla.ros.node_parameters import NODES
from contrastive_vla.ros.runtime import NodeStartupError, diagnostics, run_node


class ArmBridge(Node):
    def __init__(self):
        super().__init__('arm_bridge')
        self.p = params.declare(self, NODES['arm_bridge'])
        try:
            self.arm = load_arm_config(self.p['arm_config'] or None)
            self.limits = limits_from_config(self.arm, self.p)
        except (OSError, ValueError, KeyError) as exc:
            raise NodeStartupError(f'arm_bridge: bad arm description: {exc}') from None
        mj = import_mujoco()
        robot = self.arm['robot']
        self.joint_names = list(robot['joint_names'])
        self.planner = JointMotionPlanner(
            kin.ArmKinematics(mj, arm_model(self.arm, mj), self.joint_names,
                              robot['joint_lower'], robot['joint_upper']),
            self.limits, self.arm['control'])
        self.gripper_positions = {1: robot['finger_open'], -1: robot['finger_closed']}
        self.gripper_time = self.arm['control']['gripper_ticks'] * self.arm['control']['tick']
        self.watchdog = safety.CommandWatchdog(self.p['command_timeout'])


        self.traj_pub = self.create_publisher(JointTrajectory, topic('joint_trajectory').name,
                                              qos.command())
        self.twist_pub = self.create_publisher(TwistStamped, topic('servo_twist').name,
                                               qos.command())
        self.gripper_pub = self.create_publisher(Float64MultiArray,
                                                 topic('gripper_command').name, qos.command())
        self.status_pub = self.create_publisher(String, topic('primitive_status').name,
                                                qos.command())
        self.diag_pub = self.create_publisher(DiagnosticArray, topic('diagnostics').name, 10)
        self.create_subscription(Float64MultiArray, topic('primitive_delta').name,
                                 self.on_delta, qos.command())
        self.create_subscription(messages.msg_class('joint_states'), topic('joint_states').name,
                                 self.on_joint_states, qos.sensor())
        self.create_subscription(Bool, topic('estop').name, self.on_estop, qos.latched())
        self.create_subscription(String, topic('vla_status').name,
                                 lambda _msg: self.watchdog.feed(self.now()), 10)
        self.q = None            # arm joint positions, in self.joint_names order
        self.q_time = None
        self.estop = False
        self.active = None       # the primitive being executed (ActivePrimitive)
        self.counts = {}
        self.halts = 0
        self.create_timer(1.0 / self.p['servo_rate'], self.tick)
        self.create_timer(1.0, self.report)
        state = 'ACTUATION ENABLED' if self.p['enable_actuation'] else 'dry run (actuation off)'
        self.get_logger().info(f'arm bridge: {self.p["mode"]}, {state}')

    def now(self):
        return self.now_ns() / NS_PER_S

    def now_ns(self):
        return self.get_clock().now().nanoseconds

    # ---- inputs ----------------------------------------------------------------------------
    def on_joint_states(self, msg):
        if len(msg.position) != len(msg.name):
            self.get_logger().warning(f'joint_states has {len(msg.name)} names but '
                                      f'{len(msg.position)} positions; ignored',
                                      throttle_duration_sec=5.0)
            return
        positions = dict(zip(msg.name, msg.position))
        try:
            q = np.array([positions[n] for n in self.joint_names], dtype=np.float64)
        except KeyError as exc:
            self.get_logger().warning(f'joint_states lacks joint {exc}; ignored',
                                      throttle_duration_sec=5.0)
            return
        if not np.all(np.isfinite(q)):
            self.get_logger().warning('joint_states has non-finite positions; ignored',
                                      throttle_duration_sec=5.0)
            return
        self.q, self.q_time = q, self.now()

    def on_estop(self, msg):
        raised = bool(msg.data)
        if raised and not self.estop:
            self.get_logger().warning('E-STOP raised')
        self.estop = raised
        if raised and self.active is not None:
            self.halt('e-stop raised')

    def on_delta(self, msg):
        now_ns = self.now_ns()
        now = now_ns / NS_PER_S
        self.watchdog.feed(now)
        command = messages.parse_delta_command(msg)
        delta, decision = command.delta, command.decision
        latency_ms = None
        if command.image_stamp_ns is not None:
            latency_ms = round((now_ns - command.image_stamp_ns) * 1e-6, 3)

        def refuse(status, message):
            self.finish(status_of(decision, delta, latency_ms, status, message))

        if self.estop:
            return refuse(Outcome.REFUSED, 'the e-stop is raised')
        if self.active is not None:
            return refuse(Outcome.REFUSED, f'busy with decision {self.active.decision}')
        if self.q is None or now - self.q_time > self.p['joint_state_timeout']:
            return refuse(Outcome.REFUSED, 'no fresh joint_states (is the arm driver running?)')
        plan = self.planner.plan(self.q, delta)
        if plan.status in (Outcome.REJECTED, Outcome.UNREACHABLE):
            self.get_logger().warning(f'primitive {plan.status}: {plan.message}',
                                      throttle_duration_sec=1.0)
            return refuse(plan.status, plan.message)
        self.active = ActivePrimitive(decision, delta, latency_ms, plan, plan.status,
                                      plan.message)
        if plan.moves:
            self.start_motion(plan, now)
        else:
            self.start_gripper(now)

    # ---- executing -------------------------------------------------------------------------
    def start_motion(self, plan, now):
        a = self.active
        a.goal, a.phase = plan.points[-1], Phase.MOVE
        if self.p['mode'] == 'joint_trajectory':
            a.until = now + plan.duration + self.p['settle_time']
            self.send(self.trajectory(plan.points, plan.times), 'trajectory',
                      f'{len(plan.points)} points over {plan.duration:.2f} s')
        else:
            pos, rot = self.planner.kin.fk(self.q)
            linear, angular, duration, _ = safety.twist_plan(plan_delta(a.delta),
                                                             self.limits, pos)
            angular = angular + rot[:, 2] * (a.delta[6] / max(duration, 1e-9))
            _, angular = safety.limit_twist(np.zeros(3), angular, self.limits)
            a.twist = (linear, angular)
            a.twist_until = now + duration
            a.until = now + duration + self.p['settle_time']

    def start_gripper(self, now):
        a = self.active
        if a.plan.gripper == 0:
            return self.complete()
        a.phase, a.until = Phase.GRIPPER, now + self.gripper_time

        position = float(self.gripper_positions[a.plan.gripper])
        self.send(Float64MultiArray(data=[position]), 'gripper',
                  'open' if a.plan.gripper > 0 else 'close')

    def tick(self):
        a = self.active
        if a is None:
            return
        now = self.now()
        if self.estop:
            return self.halt('e-stop raised')
        if self.watchdog.expired(now):
            return self.halt(f'no word from the VLA node for {self.watchdog.age(now):.2f} s '
                             f'(command_timeout {self.p["command_timeout"]} s)')
        if a.phase is Phase.MOVE and a.twist is not None:
            linear, angular = a.twist if now < a.twist_until else (np.zeros(3), np.zeros(3))
            self.send(self.twist(linear, angular), 'twist', None)
        if now < a.until:
            return
        if a.phase is Phase.MOVE:
            if self.p['enable_actuation'] and self.q is not None and a.goal is not None:
                why = kin.obstruction(*self.planner.tracking_error(a.goal, self.q))
                if why:
                    a.status, a.message = Outcome.OBSTRUCTED, why
                    self.hold()
            return self.start_gripper(now)
        self.complete()

    def complete(self):
        a, self.active = self.active, None
        status = a.status if self.p['enable_actuation'] else Outcome.DRY_RUN
        self.finish(a.report(status, a.message))

    def halt(self, reason):
        self.halts += 1
        self.hold()
        a, self.active = self.active, None
        self.get_logger().warning(f'HALT: {reason}')
        if a is not None:
            self.finish(a.report(Outcome.HALTED, reason))

    def hold(self):
        """Stop where the arm is: a one-point trajectory at the current joints / zero twist."""
        if self.p['mode'] == 'joint_trajectory':
            if self.q is not None:
                self.send(self.trajectory(self.q[None], np.array([0.05])), 'hold', 'hold')
        else:
            self.send(self.twist(np.zeros(3), np.zeros(3)), 'hold', 'zero twist')

    # ---- messages --------------------------------------------------------------------------
    def send(self, msg, kind, summary):
        if not self.p['enable_actuation']:
            if summary:
                self.get_logger().info(f'dry run: would send {kind}: {summary}',
                                       throttle_duration_sec=0.5)
            return
        publisher = {'trajectory': self.traj_pub, 'hold': self.traj_pub
                     if self.p['mode'] == 'joint_trajectory' else self.twist_pub,
                     'twist': self.twist_pub, 'gripper': self.gripper_pub}[kind]
        publisher.publish(msg)

    def trajectory(self, points, times):
        out = JointTrajectory(joint_names=self.joint_names)
        for q, t in zip(points, times):
            sec, nanosec = ns_to_time_fields(seconds_to_ns(t))
            out.points.append(JointTrajectoryPoint(
                positions=[float(v) for v in q],
                time_from_start=Duration(sec=sec, nanosec=nanosec)))
        return out

    def twist(self, linear, angular):
        msg = TwistStamped()
        msg.header = messages.header(self.get_clock().now().to_msg(), self.p['base_frame'])
        (msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z) = map(float, linear)
        (msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z) = map(float, angular)
        return msg

    def finish(self, outcome):
        """Report a primitive's outcome (a control.execution.PrimitiveStatus)."""
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        self.status_pub.publish(messages.json_string(outcome))

    def report(self):
        level = 'warn' if self.estop or not self.p['enable_actuation'] else 'ok'
        self.diag_pub.publish(diagnostics(
            self, 'contrastive_vla: arm_bridge', level,
            'e-stop' if self.estop else ('executing' if self.active is not None else 'idle'),
            {'mode': self.p['mode'], 'actuation': self.p['enable_actuation'],
             'halts': self.halts, **{f'outcome_{k}': v for k, v in self.counts.items()}}))


def plan_delta(delta):
    """The delta without the wrist term (servo folds it into the angular velocity)."""
    d = np.asarray(delta, dtype=np.float64).copy()
    d[6] = 0.0
    return d


def main(args=None):
    return run_node(ArmBridge, args)


if __name__ == '__main__':
    raise SystemExit(main())
