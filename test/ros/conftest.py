"""The harness of the multi-process graph tests.

Each test gets its own ROS_DOMAIN_ID with localhost-only discovery, starts real node processes
(``python -m contrastive_vla.ros.nodes.<node>``), talks to them from an in-process probe node,
and tears every process down even when the test fails.
"""

import itertools
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from contrastive_vla.ros import graph

_DOMAINS = itertools.count()


def _next_domain():
    # 1..101 are valid domains on Linux; spread by pid so concurrent suites rarely meet
    return 1 + (os.getpid() * 7 + next(_DOMAINS)) % 100


@pytest.fixture(scope='session')
def tiny_model(tmp_path_factory, vocab):
    """A real (untrained) tiny CLIP-RT checkpoint: the VLA node loads and runs it."""
    import torch

    from contrastive_vla.model.clip_rt import ClipRT
    from contrastive_vla.model.config import ModelConfig
    from contrastive_vla.model.policy import save_checkpoint

    torch.manual_seed(0)
    return str(save_checkpoint(tmp_path_factory.mktemp('model') / 'tiny',
                               ClipRT(ModelConfig.load('clip_rt_tiny')), vocab))


@pytest.fixture(scope='session')
def tiny_gripper_model(tmp_path_factory, vocab):
    """A tiny checkpoint that sees the finger joints, with conditioning weights that make the
    state matter (an untrained one starts them at zero)."""
    import torch

    from contrastive_vla.model.clip_rt import ClipRT
    from contrastive_vla.model.config import ModelConfig
    from contrastive_vla.model.policy import save_checkpoint

    torch.manual_seed(0)
    cfg = ModelConfig(**{**ModelConfig.load('clip_rt_tiny').to_dict(), 'name': 'tiny_gripper',
                         'state_joints': ['left_finger_joint', 'right_finger_joint']})
    model = ClipRT(cfg)
    for layer in [*model.visual.films, model.visual.state_to_cond[2]]:
        torch.nn.init.normal_(layer.weight, std=1.0)
    model.state_mean.fill_(0.02)
    model.state_std.fill_(0.02)
    return str(save_checkpoint(tmp_path_factory.mktemp('model') / 'tiny_gripper', model, vocab))


class Graph:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.procs = {}
        self.logs = {}

    def start(self, node, name=None, params=None, remaps=None, params_file=None):
        name = name or node
        # the launcher's own recipe, with the packaged parameters file as the profiles pass it
        cmd = graph.node_argv(f'contrastive_vla.ros.nodes.{node}', name, sys.executable,
                              params_file=params_file or graph.default_params_file(),
                              params=params, remaps=remaps)
        log = open(self.tmp / f'{name}.log', 'w')
        self.logs[name] = log
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        return self.procs[name]

    def start_camera(self, shape, values, rate):
        """The camera node looping over still frames of the given (H, W) ``shape``, one per
        grey value in ``values``; returns the frame directory."""
        import cv2
        import numpy as np

        frames = self.tmp / 'frames'
        frames.mkdir()
        for i, value in enumerate(values):
            cv2.imwrite(str(frames / f'{i}.png'), np.full((*shape, 3), value, np.uint8))
        self.start('camera', params={'source': str(frames), 'rate': rate})
        return frames

    def alive(self, name):
        return self.procs[name].poll() is None

    def kill(self, name, sig=signal.SIGKILL):
        self.procs[name].send_signal(sig)
        self.procs[name].wait(timeout=10)

    def log(self, name):
        self.logs[name].flush()
        return (self.tmp / f'{name}.log').read_text()

    def logs_text(self):
        return '\n'.join(f'--- {n} ---\n{self.log(n)[-3000:]}' for n in self.procs)

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 8
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in self.logs.values():
            log.close()


class Probe:
    """An in-process node that publishes and records, spun in a background thread."""

    def __init__(self):
        from contrastive_vla.ros.runtime import SpunNode

        self.spun = SpunNode('test_probe')
        self.node = self.spun.node
        self.lock = threading.Lock()
        self.received = {}
        self.spun.start()

    def record(self, topic, msg_type, qos, convert=None):
        self.received[topic] = []

        def callback(msg):
            with self.lock:
                self.received[topic].append((time.monotonic(),
                                             convert(msg) if convert else msg))

        self.node.create_subscription(msg_type, topic, callback, qos)
        return self.received[topic]

    def messages(self, topic):
        with self.lock:
            return [m for _, m in self.received[topic]]

    def stamped(self, topic):
        with self.lock:
            return list(self.received[topic])

    def publisher(self, topic, msg_type, qos):
        return self.node.create_publisher(msg_type, topic, qos)

    def wait_for(self, predicate, timeout, graph=None, what='condition'):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if graph is not None:
                dead = [n for n in graph.procs if not graph.alive(n)]
                if dead:
                    pytest.fail(f'node(s) {dead} died while waiting for {what}\n'
                                f'{graph.logs_text()}')
            time.sleep(0.05)
        pytest.fail(f'timed out after {timeout} s waiting for {what}\n'
                    f'{graph.logs_text() if graph else ""}')

    def close(self):
        self.spun.close()


@pytest.fixture
def ros_graph(tmp_path, monkeypatch):
    """(Graph, Probe) on a private domain; everything is torn down afterwards."""
    pytest.importorskip('rclpy')
    monkeypatch.setenv('ROS_DOMAIN_ID', str(_next_domain()))
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    graph = Graph(tmp_path)
    probe = None
    try:
        probe = Probe()
        yield graph, probe
    finally:
        graph.stop()
        if probe is not None:
            probe.close()


@pytest.fixture(scope='session')
def ros2_cli(tmp_path_factory):
    """ROS 2's own ``ros2`` CLI and ``ros2 launch`` over a colcon build of the package
    (test/ros/ros2_harness.py); skips when ../shared/ros2-cli is absent."""
    pytest.importorskip('rclpy')
    # deferred: only the tests that use ROS 2's CLI need the harness (and a colcon build)
    from ros2_harness import Ros2Cli

    return Ros2Cli.build(tmp_path_factory, Probe)


# private domains of the in-process node tests, apart from each other
_NODE_DOMAIN = 60 + os.getpid() % 40
_CONTEXT_DOMAIN = 150 + os.getpid() % 80


@pytest.fixture
def start_node():
    """start_node(NodeClass, *ros_args): a node built as run_node builds it, on the default
    context of a private domain; torn down after the test."""
    rclpy = pytest.importorskip('rclpy')
    started = []

    def start(cls, *ros_args):
        rclpy.init(args=['test', '--ros-args', *ros_args], domain_id=_NODE_DOMAIN)
        started.append(cls())
        return started[-1]

    yield start
    for node in started:
        node.destroy_node()
    rclpy.try_shutdown()


@pytest.fixture
def ros_context():
    """ros_context(*ros_args) -> make_node(name): plain rclpy nodes on a private context and
    domain (the ros_args apply to them: parameters, params files); shut down after the test."""
    rclpy = pytest.importorskip('rclpy')
    contexts = []

    def start(*ros_args):
        ctx = rclpy.Context()
        rclpy.init(args=['test', '--ros-args', *ros_args], context=ctx,
                   domain_id=_CONTEXT_DOMAIN)
        contexts.append(ctx)
        return lambda name: rclpy.create_node(name, context=ctx)

    yield start
    for ctx in contexts:
        rclpy.try_shutdown(context=ctx)
