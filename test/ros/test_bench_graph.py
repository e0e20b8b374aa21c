"""``contrastive-vla bench --only graph`` prints the documented JSON: the machine and its load,
the offline model bench of the same model, and per graph run the camera -> command latency,
the in-node decision time beside the offline figure, and the frame counts. A tiny model, one
224x224 run of a few seconds through the real node processes on a private domain."""

import json
import os
import signal
import subprocess
import sys

import pytest

from contrastive_vla.ros.bench_graph import GRAPH_KEYS

pytestmark = pytest.mark.ros


def test_bench_graph_prints_the_documented_keys(tiny_model, tmp_path):
    pytest.importorskip('rclpy')
    env = {**os.environ, 'ROS_DOMAIN_ID': str(1 + (os.getpid() * 3 + 11) % 100),
           'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}
    out = tmp_path / 'bench.json'
    cmd = [sys.executable, '-m', 'contrastive_vla.cli', 'bench', '--only', 'graph',
           '--model', tiny_model, '--graph', '224x224:best_effort', '--graph-seconds', '3',
           '--samples', '5', '--json', str(out)]
    # own session: on a timeout the bench and the node processes it started are stopped
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
        pytest.fail(f'the bench did not finish\n{output[-3000:]}')
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, output[-3000:]
    result = json.loads(out.read_text())
    assert {'machine', 'load_avg', 'graph_offline', 'graph'} <= set(result)
    assert result['machine']['cores'] == os.cpu_count() and len(result['load_avg']) == 3
    assert {'p50_ms', 'p99_ms'} <= set(result['graph_offline']['224x224'])
    (run,) = result['graph']
    assert set(GRAPH_KEYS) | {'offline_decision_ms', 'decision_vs_offline_p50',
                              'decision_vs_offline_idle_p50'} == set(run)
    assert run['image'] == '224x224' and run['transport'] == 'best_effort'
    assert run['decisions'] >= 1, run  # the graph decided and the bridge answered
    for key in ('command_latency_ms', 'decision_ms', 'frame_age_at_decision_ms'):
        assert run[key]['p50'] is not None and run[key]['p99'] >= run[key]['p50'], (key, run)
    # the first decision (on the frame held when the instruction came) is also told apart
    assert run['first_decision']['command_latency_ms'] > 0, run
    assert run['first_decision']['frame_age_ms'] is not None, run
    if run['decisions'] >= 2:
        after = run['command_latency_after_first_ms']
        assert after['p50'] is not None and after['p99'] >= after['p50'], run
    assert run['decision_vs_offline_p50'] > 0 and run['decision_vs_offline_idle_p50'] > 0


def test_the_first_decision_is_told_apart_from_the_rest():
    from contrastive_vla.ros.bench_graph import _after_first, _first_decision

    latencies = {7: 30.0, 5: 41.0, 6: 12.0, None: 99.0}  # decision id -> ms, out of order
    acted = [{'decision': 5, 'frame_age_ms': 25.0}, {'decision': 6, 'frame_age_ms': 1.0}]
    assert _after_first(latencies) == [12.0, 30.0]
    assert _first_decision(latencies, acted) == {'command_latency_ms': 41.0,
                                                 'frame_age_ms': 25.0}
    assert _first_decision({}, []) == {'command_latency_ms': None, 'frame_age_ms': None}
