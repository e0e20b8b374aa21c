"""The embedded launcher: start a profile of ``ros.graph`` one process per node, without
``ros2 launch`` (which is not installable from PyPI).

Ctrl-C (SIGINT) or SIGTERM is forwarded to every node as SIGINT, each gets ``grace`` seconds to
shut down cleanly, then SIGTERM, then SIGKILL. If a node exits on its own, the launcher stops
the others and returns non-zero (like ``on_exit=Shutdown`` in a launch file): a half-running
robot graph is worse than a stopped one.
"""

import ctypes
import logging
import signal
import subprocess
import sys
import threading
import time

from contrastive_vla.ros import graph

log = logging.getLogger(__name__)


class GraphError(RuntimeError):
    """A launched graph did not come up, or one of its nodes died."""

    user_facing = True  # the CLI prints it as one line


class GraphProcesses:
    """The processes of one launched profile.

    ``extra_nodes`` (NodeSpecs) run beside the profile's nodes and ``extra_args`` ({node name:
    [argv ...]}) are appended to a node's command: benchmarks and tests wire a variant of a
    profile without a second copy of it. ``output`` is where the nodes' output goes (None:
    this process's).
    """

    def __init__(self, profile_name, overrides=None, python=None, env=None, grace=5.0,
                 extra_nodes=(), extra_args=None, output=None):
        self.profile_name = profile_name
        self.values = graph.resolve_arguments(profile_name, dict(overrides or {}))
        # only what the user gave beats the params file (graph.node_parameters)
        self.given = set(overrides or {})
        self.python = python or sys.executable
        self.env = env
        self.grace = grace
        self.extra_nodes = tuple(extra_nodes)
        self.extra_args = dict(extra_args or {})
        self.output = output
        self.procs = {}

    def commands(self):
        specs = graph.started_nodes(self.profile_name, self.values) + self.extra_nodes
        return {spec.name: graph.node_command(spec, self.values, self.python, self.given)
                + list(self.extra_args.get(spec.name, ())) for spec in specs}

    def start(self):
        for name, cmd in self.commands().items():
            log.info('starting %s', name)
            # own session: the launcher decides when and how each node is signalled; and a
            # node is told to stop (SIGTERM) if the launcher itself dies without cleaning up
            self.procs[name] = subprocess.Popen(cmd, env=self.env, start_new_session=True,
                                                preexec_fn=_stop_with_parent,
                                                stdout=self.output, stderr=self.output)
        return self

    def dead(self):
        """{name: exit code} of nodes that have exited."""
        return {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}

    def check(self):
        """Raise GraphError naming the nodes that have exited, if any."""
        dead = self.dead()
        if dead:
            raise GraphError('node(s) died: ' + ', '.join(f'{n} (exit code {c})'
                                                          for n, c in dead.items()))

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + self.grace
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for p in self.procs.values():
                try:
                    p.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            alive = [p for p in self.procs.values() if p.poll() is None]
            if not alive:
                break
            for p in alive:
                p.send_signal(sig)
            deadline = time.monotonic() + 2.0
        return {name: p.returncode for name, p in self.procs.items()}

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _stop_with_parent():
    """In the child, before exec: SIGTERM when the parent process dies (Linux prctl).

    SIGTERM, not SIGINT: a launcher started as a background job (``cmd &`` in a script) passes
    SIGINT on ignored, and a node still importing, before ``run_node`` installs its handler,
    would lose it and outlive the launcher. SIGTERM is never ignored that way; before the
    handler it ends the process (no node exists yet), after it the node stops cleanly, as on
    SIGINT."""
    if not sys.platform.startswith('linux'):
        return

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    except OSError:
        pass


def run(profile_name, overrides=None, poll=0.2):
    """Run until Ctrl-C or a node dies; returns the exit code (0 after Ctrl-C)."""
    processes = GraphProcesses(profile_name, overrides)
    interrupted = threading.Event()

    def on_signal(signum, _frame):
        interrupted.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        processes.start()
        while not interrupted.is_set():
            dead = processes.dead()
            if dead:
                for name, rc in dead.items():
                    log.error('node %s exited unexpectedly (code %s); stopping the graph', name,
                              rc)
                code = 1
                break
            time.sleep(poll)
    finally:
        codes = processes.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    log.info('graph stopped (%s)', ', '.join(f'{n}: {c}' for n, c in codes.items()))
    return code
