"""contrastive-vla demo end to end: the sim graph, an episode, a video and the JSON summary."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.ros


def test_demo_runs_an_episode_through_the_graph(ros_graph, tiny_model, tmp_path):
    out = tmp_path / 'demo.json'
    run = subprocess.run([sys.executable, '-m', 'contrastive_vla.cli', 'demo', '--model',
                          tiny_model, '--tasks', 'reach_block', '--episodes', '1',
                          '--real-time-factor', '2.0', '--video', str(tmp_path / 'videos'),
                          '--json', str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert {'success_rate', 'episodes', 'latency_ms', 'dropped_frames'} <= set(summary)
    assert summary['episodes'] == 1 and summary['per_task']['reach_block']['episodes'] == 1
    episode = summary['episode_results'][0]
    # an untrained model may thrash: the VLA node's stuck detector then ends the episode
    assert episode['steps'] > 0 and (episode['ended_by'] in ('success', 'step budget') or
                                     episode['ended_by'].startswith('stuck ('))
    assert summary['latency_ms']['p50'] > 0
    assert (tmp_path / 'videos' / 'reach_block_00000.mp4').stat().st_size > 10_000
    assert all(code == 0 for code in summary['node_exit_codes'].values()), \
        f'{summary["node_exit_codes"]}\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}'
