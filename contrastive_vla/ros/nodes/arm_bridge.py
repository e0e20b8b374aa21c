"""Arm-command bridge: primitive deltas -> commands a real or simulated arm understands, safely.

Modes: ``joint_trajectory`` (a ros2_control joint_trajectory_controller; IK from joint_states;
the simulator speaks this) and ``servo`` (MoveIt Servo ``TwistStamped``); the gripper gets a
position target on ``gripper_command`` (a forward_command_controller). Every command passes
the pure checks of ``control.safety`` first. With ``enable_actuation`` false nothing is sent:
the bridge logs what it would send (dry run) and reports ``dry_run``.

The stop is a set of independent holders (``control.stops``); the arm moves only while none
holds, each releases only its own stop, and a primitive is refused naming the holders:
``outside`` (``estop``, or its relay ``estop_state``: released only by a False on ``estop``),
``listener`` (the instruction listener's stop sentence, ``listener_stop``), ``watchdog`` (the
VLA node, or the node whose primitive runs, silent for ``command_timeout`` mid-motion; only
*their* messages count: each message's publisher is checked against the ROS graph,
``control.heartbeat``, so another publisher on ``vla_status`` cannot keep a dead VLA node
alive), ``lifecycle`` (not active) and ``joint_states`` (a second publisher of the arm joints,
or a jump beyond the joint velocity limits, ``control.joint_trust``: warned once, the state
not used until it is consistent again) and ``stuck`` (the VLA node's own ``vla_status`` says
``stuck``, ``control.stuck``: released when its status no longer does, after a new
instruction, or by its next command; the same from another publisher changes nothing). A
raise halts the motion in progress (a
hold-position trajectory at the joints when their state is fresh and trusted, else an empty
trajectory: the controller holds where it measures the arm; a zero twist) within one control
tick. The e-stop subscriptions live as long as the node, not per configuration.
/diagnostics names the holders and why.

A managed (lifecycle) node: ``configure`` loads the arm description and builds the limits and
the planner (a bad description fails it, logged; the node stays unconfigured). The arm is
``arm_config`` (the simulator's UR5e, a packaged ``ur5e`` / ``fr3`` or a YAML); a URDF arm's
joints, limits and kinematics come from its robot description: the ``urdf`` file, the
``robot_description`` parameter, else the latched ``robot_description`` topic, waited for up to
``description_timeout`` (``robot.arms``, ``ros.robot_description``). Only ``active``
sends commands: inactive, it refuses every primitive (status ``refused``) and reports
``inactive`` on /diagnostics. ``deactivate``, ``cleanup`` and ``shutdown`` (also on Ctrl-C)
halt the arm first, with the hold it sends on an e-stop. At start-up it configures itself and,
with ``autostart`` (the sim profile; not the robot one), activates too.
"""


from builtin_interfaces.msg import Duration
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
import numpy as np
from rclpy.duration import Duration as RclpyDuration
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from std_msgs.msg import Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from contrastive_vla.control import safety
from contrastive_vla.control.arm_commands import (
    JointMotionPlanner,
    limits_from_config,
)
from contrastive_vla.control.execution import ActivePrimitive, Phase, status_of
from contrastive_vla.control.heartbeat import CheckedWatchdog, sender_gid
from contrastive_vla.control.joint_trust import JointStateTrust
from contrastive_vla.control.stops import StopHolders
from contrastive_vla.control.stuck import STUCK
from contrastive_vla.core.joints import JointStateError, JointStateMerger, MissingJointsError
from contrastive_vla.core.msgfields import NS_PER_S, ns_to_time_fields, seconds_to_ns
from contrastive_vla.core.status import Outcome
from contrastive_vla.core.topics import topic
from contrastive_vla.robot import kinematics as kin
from contrastive_vla.robot.arms import load_arm, needs_description
from contrastive_vla.ros import messages, params, qos
from contrastive_vla.ros.node_parameters import NODES
from contrastive_vla.ros.robot_description import description_for
from contrastive_vla.ros.runtime import (
    ConfiguredEntities,
    GraphSenders,
    diagnostics,
    guarded,
    log_at,
    resolved_node,
    run_node,
    start_managed,
    warn_by_reason,
)


class ArmBridge(LifecycleNode):
    def __init__(self):
        super().__init__('arm_bridge')
        self.p = params.declare(self, NODES['arm_bridge'], on_change=self.on_parameters)
        self.arm = self.limits = self.planner = self.watchdog = None  # built by on_configure
        self.entities = None     # what on_configure created (ConfiguredEntities)
        self.commanding = False  # lifecycle state active: commands may be sent
        self.q = None            # arm joint positions, in self.joint_names order
        self.q_time = None
        # by joint name, merged over every publisher (a UR driver's own joint order; the
        # gripper in separate messages from another node)
        self.joint_states = JointStateMerger()
        self.vla_node, listener = (resolved_node(self, 'arm_bridge', key)
                                   for key in ('vla_node', 'listener_node'))
        # who holds the stop (control.stops); inactive until activated
        self.holders = StopHolders()
        self.holders.raise_('lifecycle', 'the arm bridge is inactive (ros2 lifecycle set '
                                         f'{self.get_fully_qualified_name()} activate)')
        self.senders = GraphSenders(self)  # publisher gid -> node, per topic
        self.joint_trust = None  # JointStateTrust of the configured arm (joint_trust())
        self.reset_announced = None  # when a simulator last announced an episode start
        self.jump_expected = False   # the joint_states hold came from such a reset
        self.active = None       # the primitive being executed (ActivePrimitive)
        self.counts = {}
        self.halts = 0
        self.vla_heard_at = None  # when the VLA node's own vla_status was last heard
        # estop from anyone (default QoS) + estop_state (latched, the listener's relay) +
        # listener_stop (latched): the holders 'outside' and 'listener'. For the node's whole
        # life, not per configuration: a stop heard while unconfigured still holds, and a
        # cleanup/configure cannot forget an outside stop
        self.estop_input = qos.EstopInput(self, self.on_estop, listener)
        start_managed(self, self.p['autostart'])

    # ---- lifecycle ---------------------------------------------------------------------------
    def on_configure(self, state):
        try:
            # the arm: a packaged configuration or a YAML, kinematics from its URDF (file,
            # parameter or the latched robot_description topic) or the simulator's MJCF
            description, source = description_for(
                self, self.p, needs_description(self.p['arm_config']))
            arm = load_arm(self.p['arm_config'], description, self.p['base_frame'],
                           self.p['tool_frame'], self.p['joint_limits'] or None)
            self.arm = arm.cfg
            self.limits = limits_from_config(self.arm, self.p)
            robot = self.arm['robot']
            self.joint_names = arm.joint_names
            self.frame_id = arm.base_frame if arm.urdf else (self.p['base_frame']
                                                             or arm.base_frame)
            self.planner = JointMotionPlanner(arm.kinematics, self.limits, self.arm['control'])
        except Exception as exc:  # noqa: BLE001 - whatever it is, the reason is logged
            self.arm = self.limits = self.planner = None
            self.get_logger().error(f'arm_bridge: bad arm description '
                                    f'{self.p["arm_config"] or "(packaged)"!r}: {exc}')
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(
            f'arm: {self.p["arm_config"] or "config/sim.yaml"}, joints '
            f'{", ".join(self.joint_names)}' + (f'; URDF from {source}, base frame '
                                                 f'{arm.base_frame}, tool frame '
                                                 f'{arm.urdf.tool_frame}' if arm.urdf else ''))
        self.gripper_positions = {1: robot['finger_open'], -1: robot['finger_closed']}
        self.gripper_time = self.arm['control']['gripper_ticks'] * self.arm['control']['tick']
        self.watchdog = CheckedWatchdog(self.p['command_timeout'], self.vla_node)
        with ConfiguredEntities(self) as self.entities:
            # commands: lifecycle publishers, silent unless the node is active
            self.traj_pub = self.create_lifecycle_publisher(
                JointTrajectory, topic('joint_trajectory').name, qos.command())
            self.twist_pub = self.create_lifecycle_publisher(
                TwistStamped, topic('servo_twist').name, qos.command())
            self.gripper_pub = self.create_lifecycle_publisher(
                Float64MultiArray, topic('gripper_command').name, qos.command())
            # reports: also while inactive (a refused primitive, 'inactive')
            self.status_pub = self.create_publisher(String, topic('primitive_status').name,
                                                    qos.command())
            self.diag_pub = self.create_publisher(DiagnosticArray, topic('diagnostics').name,
                                                  10)
            self.create_subscription(Float64MultiArray, topic('primitive_delta').name,
                                     guarded(self, 'primitive_delta', self.on_delta),
                                     qos.command())
            self.create_subscription(messages.msg_class('joint_states'),
                                     topic('joint_states').name,
                                     guarded(self, 'joint_states', self.on_joint_states),
                                     qos.joint_states())
            self.create_subscription(String, topic('vla_status').name,
                                     guarded(self, 'vla_status', self.on_vla_status), 10)
            # a simulator's episode starts: the arm is put back, a jump there is expected
            self.create_subscription(String, topic('episode').name,
                                     guarded(self, 'episode', self.on_episode), qos.latched())
            self.create_timer(1.0 / self.p['servo_rate'], self.tick)
            self.create_timer(1.0, self.report)
        actuation = 'ACTUATION ENABLED' if self.p['enable_actuation'] else \
            'dry run (actuation off)'
        self.get_logger().info(f'arm bridge configured: {self.p["mode"]}, {actuation}')
        return super().on_configure(state)

    def on_activate(self, state):
        self.commanding = True
        self.holders.release('lifecycle')
        self.get_logger().info('active: commands enabled')
        return super().on_activate(state)

    def on_deactivate(self, state):
        self.stand_down('deactivated')  # before super(): the publishers still send the hold
        self.get_logger().info('inactive: commands disabled')
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        self.release('cleaned up')
        return super().on_cleanup(state)

    def on_shutdown(self, state):
        self.release('shut down')
        return super().on_shutdown(state)

    def stand_down(self, reason):
        """Halt as on an e-stop (the primitive in progress reported ``halted``; idle: the hold
        alone), then send nothing more. Only an active bridge can have commanded anything since
        the last stand-down, so an inactive one has nothing to halt."""
        self.holders.raise_('lifecycle', 'the arm bridge is inactive (ros2 lifecycle set '
                                         f'{self.get_fully_qualified_name()} activate)')
        if not self.commanding:
            return
        if self.active is not None:
            self.halt(f'bridge {reason}')
        else:
            self.hold()
        self.commanding = False

    def release(self, reason):
        """cleanup / shutdown: halt first, then destroy what on_configure created."""
        self.stand_down(reason)
        self.flush()
        if self.entities is not None:
            self.entities.destroy()
            self.entities = None
        self.arm = self.limits = self.planner = self.joint_trust = None

    def destroy_node(self):
        # an owner that destroys the node without the shutdown transition (rclpy.spin, a test)
        # still gets the hold, while the context can carry it
        if self.commanding and self.context.ok():
            self.stand_down('destroyed')
            self.flush()
        super().destroy_node()

    def flush(self, timeout=0.5):
        """Wait (at most ``timeout`` s) until the arm's driver has the hold: the publishers and
        the process may be gone right after, and with them what was not yet delivered."""
        if self.entities is None:
            return
        for pub in (self.traj_pub, self.twist_pub, self.gripper_pub, self.status_pub):
            pub.wait_for_all_acked(RclpyDuration(seconds=timeout))

    def on_parameters(self, values, changed):
        """``ros2 param set`` of a dynamic parameter (checked by params.declare): the safety
        limits, the planner that checks against them and the watchdog are rebuilt from the new
        values (a ValueError refuses the set); joint_state_timeout and settle_time are read when
        used. Unconfigured, there is nothing to rebuild: on_configure reads the values."""
        if self.arm is None:
            return
        limits = limits_from_config(self.arm, values)
        self.watchdog.set_timeout(values['command_timeout'])  # validates before it changes
        if self.joint_trust is not None:
            self.joint_trust.set_limits(values['joint_jump_slack'], values['joint_trust_after'])
        self.limits = limits
        self.planner = JointMotionPlanner(self.planner.kin, limits, self.arm['control'])

    def now(self):
        return self.now_ns() / NS_PER_S

    def q_fresh(self):
        """A joint state to plan and hold at: known, fresh and trusted."""
        return (self.q is not None and self.now() - self.q_time <= self.p['joint_state_timeout']
                and not self.holders.holds('joint_states'))

    def now_ns(self):
        return self.get_clock().now().nanoseconds

    # ---- inputs ----------------------------------------------------------------------------
    def joint_trust_now(self):
        """The JointStateTrust of the configured arm (None unconfigured)."""
        if self.limits is None:
            return None
        velocity = tuple(self.limits.joint_velocity)
        trust = self.joint_trust
        if trust is None or trust.arm != set(self.joint_names) or trust.velocity != velocity:
            self.joint_trust = trust = JointStateTrust(
                self.joint_names, velocity, self.p['joint_jump_slack'],
                self.p['joint_trust_after'],
                describe=lambda gid: self.senders.label(topic('joint_states').name, gid,
                                                        self.now()))
        return trust

    def on_joint_states(self, msg, info=None):
        now_ns = self.now_ns()
        names, positions, velocities = list(msg.name), list(msg.position), list(msg.velocity)
        trust = self.joint_trust_now()
        if trust is not None and not trust.update(sender_gid(info), names, positions,
                                                  now_ns / NS_PER_S):
            if self.holders.raise_('joint_states', trust.reason):  # once per distrust
                self.jump_expected = self.expected_jump(now_ns / NS_PER_S, trust)
                # held all the same: only the tone differs
                log_at(self, 'info' if self.jump_expected else 'error',
                       f'{trust.reason}: not planning, the arm held until the joint states '
                       f'are consistent again (a single publisher for {trust.settle:g} s, no '
                       'jumps)')
                if self.active is not None:
                    self.halt(trust.reason)
            # its arm joints are not used; the rest (a gripper's) is
            keep = [i for i, n in enumerate(names) if n not in trust.arm]
            if not keep:
                return
            # lists of another length than the names are kept whole: the update below refuses
            # the message saying so (indexing them raised IndexError)
            if len(velocities) == len(names):
                velocities = [velocities[i] for i in keep]
            if len(positions) == len(names):
                names, positions = [names[i] for i in keep], [positions[i] for i in keep]
        elif trust is not None and self.holders.release('joint_states'):
            log_at(self, 'info' if self.jump_expected else 'warning',
                   'joint_states consistent again: planning resumes')
        try:  # stamped on receipt: joint_state_timeout is measured on this node's clock
            self.joint_states.update(names, positions, velocities, now_ns)
        except JointStateError as exc:
            warn_by_reason(self, f'joint_states refused: {exc}; ignored')
            return
        try:
            reading = self.joint_states.positions(self.joint_names)
        except MissingJointsError as exc:
            warn_by_reason(self, f'joint_states: {exc}; cannot plan yet')
            return
        # as fresh as the oldest arm joint's state
        self.q, self.q_time = reading.positions, reading.stamp_ns / NS_PER_S

    def on_episode(self, msg):
        """A simulator's episode event: a start puts the arm back, so the jump that follows is
        expected (logged as information, not as an error; the arm is held until the states
        settle all the same)."""
        event = messages.parse_json(msg)
        if event is not None and event.get('event') == 'start':
            self.reset_announced = self.now()

    def expected_jump(self, now, trust):
        """A jump (not a second publisher) within 2 s of an announced episode start."""
        return (self.reset_announced is not None and now - self.reset_announced < 2.0
                and trust.jumped)

    def on_estop(self, _raised):
        """The e-stop inputs (qos.EstopInput) changed: its two holders, ``outside`` and
        ``listener``, follow them; a raise halts the motion in progress."""
        for holder, raised, reason in (
                ('outside', self.estop_input.outside, 'the e-stop is raised on estop'),
                ('listener', self.estop_input.listener,
                 'the e-stop is raised by a stop sentence (instruction listener)')):
            if self.holders.set(holder, raised, reason):
                self.get_logger().warning(f'E-STOP raised ({holder})' if raised else
                                          f'e-stop released ({holder})' + (
                                              f'; still {self.holders.summary()}'
                                              if self.holders.held else ''))
        if (self.estop_input.outside or self.estop_input.listener) and self.active is not None:
            self.halt(self.holders.summary())

    def on_vla_status(self, msg, info=None):
        """The VLA node's heartbeat: feeds the watchdog when the VLA node (or the commander of
        the motion) sent it; other publishers are counted and warned about once each. The
        VLA node's own status also raises or releases the holder ``stuck``."""
        now = self.now()
        node = self.senders.sender_of('vla_status', info, now)
        if self.watchdog.heard(node, now):
            if node == self.vla_node:
                self.vla_heard_at = now
                self.holders.release('watchdog')
                self.follow_stuck(messages.parse_json(msg))
            return
        if self.watchdog.warn_now(node):
            who = node or 'a publisher the ROS graph does not know'
            self.get_logger().warning(f'vla_status from {who} ignored: only {self.vla_node} '
                                      '(vla_node) and the node whose primitive runs feed the '
                                      'command watchdog')

    def follow_stuck(self, status):
        """The VLA node's status (parsed; None: not a JSON object, ignored) says 'stuck' (its
        state, or its 'stuck' reason while its state says a stop said since): hold the arm,
        halting a motion in progress, until a status of it says otherwise."""
        if status is None:
            return
        why = status.get('stuck')
        if status.get('state') == STUCK or (isinstance(why, str) and why):
            reason = 'the VLA node is stuck' + (f': {why[:300]}' if isinstance(why, str) else '')
            if self.holders.raise_('stuck', reason):
                self.get_logger().error(f'{reason}; the arm held until a new instruction')
                if self.active is not None:
                    self.halt(self.holders.summary())
        elif self.holders.release('stuck'):
            self.get_logger().warning('the VLA node is no longer stuck' + (
                f'; still {self.holders.summary()}' if self.holders.held else ''))

    def on_delta(self, msg, info=None):
        now_ns = self.now_ns()
        now = now_ns / NS_PER_S
        commander = self.senders.sender_of('primitive_delta', info, now)
        if self.watchdog.watched(commander):
            self.watchdog.feed(now)
        command = messages.parse_delta_command(msg)
        delta, decision = command.delta, command.decision

        def age_ms():  # camera stamp -> now: the command's latency once it is sent
            stamp = command.image_stamp_ns
            return None if stamp is None else round((self.now_ns() - stamp) * 1e-6, 3)

        def refuse(status, message):
            self.finish(status_of(decision, delta, age_ms(), status, message))

        self.holders.release('watchdog')  # a new command: a fresh watch
        if commander == self.vla_node:  # it decides again: no longer stuck (its status may lag)
            self.holders.release('stuck')
        if self.holders.held:
            return refuse(Outcome.REFUSED, self.holders.summary())
        if self.active is not None:
            return refuse(Outcome.REFUSED, f'busy with decision {self.active.decision}')
        if self.q is None or now - self.q_time > self.p['joint_state_timeout']:
            return refuse(Outcome.REFUSED, 'no fresh joint_states (is the arm driver running?)')
        plan = self.planner.plan(self.q, delta)
        if plan.status in (Outcome.REJECTED, Outcome.UNREACHABLE):
            warn_by_reason(self, f'primitive {plan.status}: {plan.message}', 1.0)
            return refuse(plan.status, plan.message)
        self.active = a = ActivePrimitive(decision, delta, age_ms(), plan, plan.status,
                                          plan.message)
        self.watchdog.start(commander, now)  # its sender just spoke; watched while it runs
        if plan.moves:
            self.start_motion(plan, now)
        else:
            self.start_gripper(now)
        a.latency_ms = age_ms()  # planning and publishing included

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
        if self.holders.held:
            return self.halt(self.holders.summary())
        if self.watchdog.expired(now):
            reason = (f'no word from the VLA node for {self.watchdog.age(now):.2f} s '
                      f'(command_timeout {self.p["command_timeout"]} s)')
            self.holders.raise_('watchdog', reason)
            return self.halt(reason)
        if a.phase is Phase.MOVE and a.twist is not None:
            linear, angular = a.twist if now < a.twist_until else (np.zeros(3), np.zeros(3))
            self.send(self.twist(linear, angular), 'twist', None)
        if now < a.until:
            return
        if a.phase is Phase.MOVE:
            if self.p['enable_actuation'] and self.q_fresh() and a.goal is not None:
                why = kin.obstruction(*self.planner.tracking_error(a.goal, self.q))
                if why:
                    a.status, a.message = Outcome.OBSTRUCTED, why
                    self.hold()
            return self.start_gripper(now)
        self.complete()

    def complete(self):
        a, self.active = self.active, None
        self.watchdog.finish()
        status = a.status if self.p['enable_actuation'] else Outcome.DRY_RUN
        self.finish(a.report(status, a.message))

    def halt(self, reason):
        self.halts += 1
        self.hold()
        a, self.active = self.active, None
        if self.watchdog is not None:
            self.watchdog.finish()
        self.get_logger().warning(f'HALT: {reason}')
        if a is not None:
            self.finish(a.report(Outcome.HALTED, reason))

    def hold(self):
        """Stop where the arm is: a one-point trajectory at the current joints / zero twist.
        Without a fresh, trusted joint state (none yet, older than joint_state_timeout, or
        distrusted) an empty trajectory instead: a joint_trajectory_controller (and the
        simulator) stop and hold the position they measure themselves, where a point at a
        stale position would send the arm back to it."""
        if self.p['mode'] == 'joint_trajectory':
            if self.q_fresh():
                self.send(self.trajectory(self.q[None], np.array([0.05])), 'hold', 'hold')
            else:
                self.send(JointTrajectory(joint_names=self.joint_names), 'hold',
                          'hold (empty trajectory: no fresh joint state)')
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
        msg.header = messages.header(self.get_clock().now().to_msg(), self.frame_id)
        (msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z) = map(float, linear)
        (msg.twist.angular.x, msg.twist.angular.y, msg.twist.angular.z) = map(float, angular)
        return msg

    def finish(self, outcome):
        """Report a primitive's outcome (a control.execution.PrimitiveStatus)."""
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        self.status_pub.publish(messages.json_string(outcome))

    def report(self):
        held = self.holders.reasons
        if not self.commanding:
            message = 'inactive'
        elif 'outside' in held or 'listener' in held:
            message = 'e-stop'
        elif 'joint_states' in held:
            message = 'joint_states untrusted'
        else:
            message = 'executing' if self.active is not None else \
                ('halted: VLA node silent' if 'watchdog' in held else 'idle')
        level = 'error' if 'joint_states' in held else \
            'warn' if held or not self.p['enable_actuation'] else 'ok'
        trust = self.joint_trust
        self.diag_pub.publish(diagnostics(
            self, 'contrastive_vla: arm_bridge', level, message,
            {'lifecycle': 'active' if self.commanding else 'inactive',
             'mode': self.p['mode'], 'actuation': self.p['enable_actuation'],
             'halts': self.halts, 'held_by': messages.held_by_text(held),
             **{f'held_{h}': r for h, r in held.items()},
             'vla_node': self.vla_node,
             'vla_heard': ('never' if self.vla_heard_at is None
                           else f'{self.now() - self.vla_heard_at:.1f} s ago'),
             'vla_status_ignored': self.watchdog.ignored_total(),
             'vla_status_ignored_from': self.watchdog.describe_ignored() or 'none',
             'joint_states': 'trusted' if trust is None or trust.trusted else trust.reason,
             'joint_state_jumps': 0 if trust is None else trust.jumps,
             'joint_state_conflicts': 0 if trust is None else trust.conflicts,
             **{f'outcome_{k}': v for k, v in self.counts.items()}}))


def plan_delta(delta):
    """The delta without the wrist term (servo folds it into the angular velocity)."""
    d = np.asarray(delta, dtype=np.float64).copy()
    d[6] = 0.0
    return d


def main(args=None):
    return run_node(ArmBridge, args)


if __name__ == '__main__':
    raise SystemExit(main())
