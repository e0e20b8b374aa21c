"""Latency through the real node graph: camera stamp -> arm command, at 30 Hz.

Processes: the camera node playing simulator frames of the requested size from a directory at
``rate`` Hz, the instruction listener, the VLA node, the arm bridge (actuation on) and the
simulator node as the arm (its own camera remapped away, so the VLA sees only the camera
node's frames). All on the wall clock. The bridge reports, for every command it sends, the age of
the camera frame the decision came from (``latency_ms`` in ``primitive_status``); the VLA node's
status gives frames received and frames dropped as stale; the camera node's count of published
frames gives the transport loss; ``primitive_topk`` gives each decision's own time in the node
(frame conversion + model + ranking).

``transport`` picks how frames cross processes: 'best_effort' (the VLA node's default
subscription), 'reliable' (``reliable_images``) or 'large_data' (``reliable_images`` over Fast
DDS's LARGE_DATA builtin transports, ``FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA`` in every node;
best effort over them lost 60% of the 640x480 frames here).

The simulator node stamps its joint states with simulated time, which no wall-clock frame can
be paired with, so the bench turns the joint-state pairing off (``joint_state_tolerance``
huge: any joint state counts as the frame's); a real arm's driver stamps on the wall clock.
"""

from dataclasses import replace
import os
from pathlib import Path
import subprocess
import tempfile
import time

from diagnostic_msgs.msg import DiagnosticArray

from contrastive_vla.core.topics import topic
from contrastive_vla.ros import graph
from contrastive_vla.ros.graph_driver import GraphDriver, next_item, percentiles
from contrastive_vla.ros.launcher import GraphProcesses
from contrastive_vla.ros.messages import diagnostic_values
from contrastive_vla.sim.env import TabletopEnv


def render_frames(directory, width, height, count=12):
    # deferred: OpenCV loads only where frames are decoded or resized
    import cv2


    with TabletopEnv(image_size=(height, width)) as env:
        for i in range(count):
            env.reset('reach_block', i)
            cv2.imwrite(str(Path(directory) / f'{i:03d}.png'),
                        cv2.cvtColor(env.render(), cv2.COLOR_RGB2BGR))


TRANSPORTS = ('best_effort', 'reliable', 'large_data')


def bench_graph(model='clip_rt_default', width=224, height=224, rate=30.0, duration=20.0,
                reliable=False, python=None, transport=None, threads=0, device='cpu'):
    """One graph run: JSON-ready figures (keys in ``GRAPH_KEYS``). ``threads``: the VLA node's
    torch threads (0 = torch's default); ``device``: its torch device (the launch argument)."""
    transport = transport or ('reliable' if reliable else 'best_effort')
    if transport not in TRANSPORTS:
        raise ValueError(f'transport must be one of {", ".join(TRANSPORTS)}, got {transport!r}')
    reliable = transport in ('reliable', 'large_data')
    env = None
    if transport == 'large_data':
        env = {**os.environ, 'FASTDDS_BUILTIN_TRANSPORTS': 'LARGE_DATA'}
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        render_frames(tmp, width, height)
        # the robot profile, with the simulator node as the arm (its own camera moved aside)
        simulator = replace(next(s for s in graph.PROFILES['sim'].nodes
                                 if s.name == 'simulator'), arguments={})
        processes = GraphProcesses(
            'robot', {'model': model, 'device': device, 'camera_source': tmp,
                      'enable_actuation': 'true', 'autostart': 'true'},
            python=python, env=env, output=subprocess.DEVNULL, extra_nodes=[simulator],
            extra_args={
                'camera': ['-p', f'rate:={float(rate)}'],
                'vla': ['-p', f'reliable_images:={str(reliable).lower()}',
                        '-p', f'threads:={int(threads)}',
                        '-p', 'joint_state_tolerance:=1000000000.0'],
                'simulator': ['-r', 'image_raw:=sim/image_raw', '-r',
                              'camera_info:=sim/camera_info', '-p', 'camera_rate:=1.0']})
        driver = None
        try:
            processes.start()
            driver = GraphDriver()
            camera_status = {}
            driver.node.create_subscription(
                _diag_type(), topic('diagnostics').name,
                lambda m: camera_status.update(diagnostic_values(m, 'camera') or {}), 10)
            driver.wait_for_graph(120, processes.check, inputs=('instruction', 'primitive_delta'))
            time.sleep(1.5)  # camera diagnostics arrive once a second
            start_status, start_camera = dict(driver.vla_status), dict(camera_status)
            driver.say('touch the red block')
            latencies, outcomes, acted = {}, 0, []  # latencies: decision id -> ms
            _drain(driver.decisions)
            began = time.monotonic()
            while time.monotonic() - began < duration:
                processes.check()
                outcome = next_item(driver.outcomes, 0.1)
                if outcome is None:
                    continue
                outcomes += 1
                if outcome.get('latency_ms') is not None:
                    latencies.setdefault(outcome.get('decision'), outcome['latency_ms'])
            elapsed = time.monotonic() - began
            acted = [d for d in _drain(driver.decisions)
                     if d.get('acted') and d.get('decision_ms') is not None]
            driver.say('stop')
            time.sleep(1.2)
            end_status, end_camera = dict(driver.vla_status), dict(camera_status)
        finally:
            if driver is not None:
                driver.close()
            processes.stop()
    published = int(end_camera.get('frames', 0)) - int(start_camera.get('frames', 0))
    received = int(end_status.get('frames', 0)) - int(start_status.get('frames', 0))
    return {
        'image': f'{width}x{height}', 'camera_rate_hz': rate, 'seconds': round(elapsed, 1),
        'command_latency_ms': percentiles(list(latencies.values())),
        # the first decision is made when the instruction arrives, on the newest frame the node
        # holds (up to one camera period old); each later one on the first frame taken after
        # the previous primitive's outcome
        'command_latency_after_first_ms': percentiles(_after_first(latencies)),
        'first_decision': _first_decision(latencies, acted),
        'decisions': int(end_status.get('decisions', 0)) - int(start_status.get('decisions', 0)),
        'decisions_per_s': round(outcomes / elapsed, 3),
        'decision_ms': percentiles([d['decision_ms'] for d in acted]),
        # camera stamp -> the VLA node starts deciding (transport, scheduling)
        'frame_age_at_decision_ms': percentiles([d['frame_age_ms'] for d in acted
                                                 if d.get('frame_age_ms') is not None]),
        'frames_published': published, 'frames_received': received,
        'transport_lost_frames': max(0, published - received) if published else None,
        'dropped_frames': (int(end_status.get('dropped_frames', 0))
                           - int(start_status.get('dropped_frames', 0))),
        'reliable_images': reliable, 'transport': transport, 'vla_threads': int(threads),
        'vla_device': str(device),
        'load_avg_1m': [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        'cpu_count': os.cpu_count(),
    }


# the keys of one bench_graph result (the README and a test hold the bench to them)
GRAPH_KEYS = ('image', 'camera_rate_hz', 'seconds', 'command_latency_ms', 'decisions',
              'decisions_per_s', 'decision_ms', 'frame_age_at_decision_ms', 'frames_published',
              'frames_received', 'transport_lost_frames', 'dropped_frames', 'reliable_images',
              'transport', 'vla_threads', 'vla_device', 'load_avg_1m', 'cpu_count',
              'command_latency_after_first_ms', 'first_decision')


def _after_first(latencies):
    """The command latencies of all decisions but the first."""
    return [latencies[i] for i in _decision_ids(latencies)[1:]]


def _first_decision(latencies, acted):
    """Camera stamp -> command and the frame's age for the first decision of the run."""
    ids = _decision_ids(latencies)
    if not ids:
        return {'command_latency_ms': None, 'frame_age_ms': None}
    ages = {d.get('decision'): d.get('frame_age_ms') for d in acted}
    return {'command_latency_ms': latencies[ids[0]], 'frame_age_ms': ages.get(ids[0])}


def _decision_ids(latencies):
    """The decision ids of ``latencies`` (id -> ms) in order; outcomes without one left out."""
    return sorted(i for i in latencies if i is not None)


def _drain(q):
    items = []
    while True:
        item = next_item(q, 0)
        if item is None:
            return items
        items.append(item)


def _diag_type():
    return DiagnosticArray

