"""Teleoperation through a running graph: sentences -> arm bridge -> the simulator node."""

import subprocess
import sys

import numpy as np
import pytest

from contrastive_vla.data.dataset import read_episode

pytestmark = pytest.mark.ros


def start_arm_graph(graph, actuation=True):
    graph.start('simulator', params={'task': 'reach_block', 'seed': 3,
                                     'real_time_factor': 2.0})
    graph.start('arm_bridge', params={'enable_actuation': str(actuation).lower(),
                                      'use_sim_time': 'true', 'autostart': 'true'})


def test_teleop_cli_steers_the_simulator_node_through_the_bridge(ros_graph, tmp_path, vocab):
    graph, _probe = ros_graph
    start_arm_graph(graph)
    script = tmp_path / 'session.txt'
    script.write_text('go down 5 cm\nmove left a smidge\nundo\nlift the table by ten meters\n'
                      'move forward two centimeters\ndone\n')
    run = subprocess.run([sys.executable, '-m', 'contrastive_vla.cli', 'teleop', '--arm', 'ros',
                          '--task', 'reach_block', '--seed', '4', '--script', str(script),
                          '--out', str(tmp_path / 'bags')], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:] + graph.logs_text()
    assert 'connected to the graph (simulator node)' in run.stdout
    assert 'undone: "move the arm to the left by one centimeter"' in run.stdout
    assert 'far more than the largest step' in run.stdout  # ten meters: asked, not done
    bag = next((tmp_path / 'bags').iterdir())
    samples, success, _ = read_episode(bag, vocab, 32)
    assert success is True
    assert [vocab[i].name for i in samples['labels']] == ['down_5cm', 'forward_1cm']
    assert samples['supervisions'] == ['go down 5 cm', 'move forward two centimeters']
    # the simulator node's episode: its instruction, and the arm really moved between steps
    assert 'block' in samples['instructions'][0]
    assert not np.array_equal(samples['images'][0], samples['images'][1])
    assert not np.allclose(samples['states'][0], samples['states'][1])
    outcomes = graph.log('arm_bridge')
    assert 'HALT' not in outcomes


def test_real_arm_mode_needs_the_instruction_and_a_dry_run_moves_nothing(ros_graph):
    from contrastive_vla.ros.teleop_arm import ArmGraphError, RosArm

    graph, _probe = ros_graph
    start_arm_graph(graph, actuation=False)
    with RosArm(simulated=False, step_timeout=20.0) as arm:
        arm.wait_ready(timeout=60.0)
        with pytest.raises(ArmGraphError, match='--instruction'):
            arm.reset('cup', 0)
        obs = arm.reset('cup', 0, 'touch the red block')
        assert obs.image.ndim == 3 and arm.spec.instruction == 'touch the red block'
        result = arm.step('down_5cm')
        assert result.status == 'dry_run' and 'enable_actuation' in result.message, \
            result.message
        assert result.success is False
        q = arm.observe().joint_positions
        np.testing.assert_allclose(q, obs.joint_positions, atol=1e-3)


def test_no_graph_is_a_clear_error(ros_graph):
    from contrastive_vla.ros.teleop_arm import ArmGraphError, RosArm

    with RosArm() as arm, pytest.raises(ArmGraphError, match='vla:=false'):
        arm.wait_ready(timeout=1.0)


def test_an_inactive_bridge_is_named_before_any_step(ros_graph):
    """The bridge subscribes once configured but refuses until active: teleop says so at
    start-up instead of a refused first step."""
    from contrastive_vla.ros.teleop_arm import ArmGraphError, RosArm

    graph, _probe = ros_graph
    graph.start('simulator', params={'task': 'reach_block', 'seed': 3})
    graph.start('arm_bridge', params={'enable_actuation': 'false', 'use_sim_time': 'true',
                                      'autostart': 'false'})
    with RosArm(simulated=False) as arm, \
            pytest.raises(ArmGraphError, match='arm bridge is inactive: activate it'):
        arm.wait_ready(timeout=20.0)
