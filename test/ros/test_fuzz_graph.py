"""The live sim graph (four node processes, a tiny model) under a few thousand hostile
messages on every input topic, e-stops interleaved: no node dies, every command that reaches
the arm is within its joint, velocity and workspace limits, no e-stop is ignored
(contrastive_vla.ros.fuzz_campaign; ``bench --only fuzz`` runs the long campaign)."""

import json
import time

import pytest

pytestmark = pytest.mark.ros


def test_live_graph_survives_hostile_messages_within_limits(ros_graph, tiny_model):
    from contrastive_vla.ros.fuzz_campaign import FUZZED, FuzzCampaign

    graph, probe = ros_graph
    graph.start('simulator', params={'task': 'reach_block', 'seed': 3})
    graph.start('instruction', name='instruction_listener', params={'use_sim_time': 'true'})
    graph.start('vla', params={'model': tiny_model, 'use_sim_time': 'true', 'threads': 1})
    graph.start('arm_bridge', params={'enable_actuation': 'true', 'use_sim_time': 'true',
                                      'autostart': 'true'})
    campaign = FuzzCampaign(probe.node, seed=17)

    def dead():
        return {n: p.returncode for n, p in graph.procs.items() if p.poll() is not None}

    def check():
        if dead():
            pytest.fail(f'node(s) {dead()} died before the campaign\n{graph.logs_text()}')

    campaign.wait_ready(120, check)
    result = campaign.run(3000, 25.0, dead=dead)
    report = json.dumps(result, indent=1)
    assert result['crashes'] == 0, f'{report}\n{graph.logs_text()}'
    assert result['messages'] >= 2900 and result['seconds'] < 60, report
    assert set(result['sent']) == set(FUZZED), result['sent']
    # the check means something: the arm was commanded and moved, stops were raised
    assert result['commands'].get('joint_trajectory', 0) >= 3, report
    assert result['arm_travel_rad'] > 0.05 and result['stop_windows'] >= 3, report
    assert result['limit_violations'] == 0, report
    assert result['ignored_stops'] == 0, report
    assert result['stops_arm_kept_moving'] == 0, report


def test_checker_judges_commands_by_the_arm_not_the_bridge():
    """The checker itself: a plan from the real pose passes; one from a false pose, a jump out
    of the joint limits or the workspace fails; during an e-stop only holds pass."""
    import numpy as np
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    from contrastive_vla.control.arm_commands import JointMotionPlanner, limits_from_config
    from contrastive_vla.robot.description import load_arm_config
    from contrastive_vla.ros.fuzz_campaign import FUZZ_FRAME, CommandChecker

    arm = load_arm_config()
    checker = CommandChecker(arm, grace=0.0)
    names = arm['robot']['joint_names']
    home = np.array([0.0, -1.2, 1.6, -1.97, -1.57, 0.0])

    def state(q, frame='', speed=0.0):
        msg = JointState(name=names, position=[float(v) for v in q],
                         velocity=[speed] * len(names))
        msg.header.frame_id = frame
        return msg

    def trajectory(points, times):
        msg = JointTrajectory(joint_names=names)
        for q, t in zip(points, times):
            p = JointTrajectoryPoint(positions=[float(v) for v in q])
            p.time_from_start.sec, p.time_from_start.nanosec = int(t), int(t % 1 * 1e9)
            msg.points.append(p)
        return msg

    checker.on_joint_state(state(home))
    checker.on_joint_state(state(home + 0.5, FUZZ_FRAME))  # the campaign's own: not the arm
    limits = limits_from_config(arm, {'max_step_translation': 0.2, 'max_step_rotation': 1.6})
    planner = JointMotionPlanner(checker.kin, limits, arm['control'])
    delta = np.zeros(8)
    delta[0] = 0.05
    good = planner.plan(home, delta)
    false = planner.plan(home + 0.3, delta)  # planned from a joint state that lied
    checker.on_trajectory(trajectory(good.points, good.times))
    assert checker.result()['limit_violations'] == 0
    checker.on_trajectory(trajectory(false.points, false.times))
    checker.on_trajectory(trajectory([home + [7.0, 0, 0, 0, 0, 0]], [5.0]))
    checker.on_trajectory(trajectory([home, home + [0, 0.6, 0, 0, 0, 0]], [1.0, 2.0]))
    checker.on_gripper(Float64MultiArray(data=[0.3]))
    result = checker.result()
    # the lying plan: too fast from the real arm and off the box; the jump: off the joint
    # range and the box; the slow swing: off the box; the finger target
    assert result['limit_violations'] == 6, result['violations']
    assert 'from the real arm to point 0' in result['violations'][0]
    assert any('joint limits' in v for v in result['violations'])
    assert any('workspace' in v for v in result['violations'])
    checker.raise_stop()
    checker.on_trajectory(trajectory([home + 0.01], [0.05]))  # a hold where the arm is
    checker.on_joint_state(state(home, speed=0.5))  # still braking: allowed for 0.5 s
    assert checker.result()['ignored_stops'] == 0
    checker.on_trajectory(trajectory(good.points, good.times))
    time.sleep(0.55)
    checker.on_joint_state(state(home, speed=0.01))
    assert checker.result()['stops_arm_kept_moving'] == 0
    checker.on_joint_state(state(home, speed=0.3))  # a hold that did not hold
    checker.release_stop()
    checker.on_joint_state(state(home, speed=0.9))  # moving again after the release: fine
    checker.on_trajectory(trajectory(good.points, good.times))
    result = checker.result()
    assert result['ignored_stops'] == 1 and result['stop_windows'] == 1
    assert result['stops_arm_kept_moving'] == 1 and result['max_arm_speed_in_stops'] == 0.3
    assert result['commands']['joint_trajectory_hold'] == 1


def test_every_outside_input_of_the_sim_graph_is_fuzzed():
    from contrastive_vla.ros import qos
    from contrastive_vla.ros.fuzz_campaign import FUZZED

    judged = {'joint_trajectory', 'gripper_command', 'servo_twist'}  # the arm's commands
    inputs = {e.topic for e in qos.ENDPOINTS if e.side == 'sub'
              and e.node in ('simulator', 'instruction_listener', 'vla', 'arm_bridge')}
    assert inputs - set(qos.OURS_ONLY) - judged - {'clock'} <= set(FUZZED)
