"""Driving the package with ROS 2's own tools: the ``ros2`` CLI and ``ros2 launch``.

The unmodified sources of launch, launch_ros and ros2cli live in ../shared/ros2-cli (no package
registry reachable here carries them); they are installed once into .cache/ros2-cli and run
over a colcon build of the package, the way a robot runs it. Every graph gets a ROS domain of
its own (checked empty before use), localhost-only discovery, its launch in its own session
(so Ctrl-C semantics reach every node) and, on exit, SIGINT to the process group, a check that
no node process outlived it, and ``ros2 daemon stop``.
"""

import contextlib
import fcntl
import itertools
import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import time

from colcon_util import REPO, colcon_build, site_packages
import pytest

SHARED_CLI = REPO.parent / 'shared' / 'ros2-cli'
CLI_CACHE = REPO / '.cache' / 'ros2-cli'
# 215..232: valid on Linux (ports above the ephemeral range) and apart from the 1..101 that the
# in-process graph tests (test/ros/conftest.py) spread over, so concurrent suites rarely meet
DOMAINS = tuple(range(215, 233))
_domain_order = itertools.count()


def install_cli(target=CLI_CACHE, python=sys.executable):
    """ROS 2's CLI and launch installed into ``target`` (idempotent: install.sh keeps a stamp
    of its sources and the interpreter); skips when ../shared/ros2-cli is absent."""
    script = SHARED_CLI / 'install.sh'
    if not script.is_file():
        pytest.skip(f'{SHARED_CLI} is absent: ROS 2 CLI tests need the ros2/launch sources '
                    'beside the repository')
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # install.sh removes and refills the target: concurrent test sessions take turns
    with open(target.parent / 'ros2-cli.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(['bash', str(script), str(target), python],
                                capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def _proc_stat(pid):
    """(state, pgid) of a process from /proc, or None when it is gone."""
    try:
        text = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return None
    fields = text[text.rindex(')') + 2:].split()
    return fields[0], int(fields[2])


def _cmdline(pid):
    try:
        return Path(f'/proc/{pid}/cmdline').read_bytes().replace(b'\0', b' ').decode(
            errors='replace')
    except OSError:
        return ''


def _live_pids():
    return [int(p.name) for p in Path('/proc').iterdir() if p.name.isdigit()]


class Ros2Cli:
    """The installed CLI and a colcon install of the package (one per test session)."""

    def __init__(self, cli_dir, install, tmp_path_factory, probe_class, python=sys.executable):
        self.cli_dir = Path(cli_dir)
        self.install = Path(install)
        self.site = site_packages(self.install)
        self.python = python
        self.tmp_path_factory = tmp_path_factory
        self.probe_class = probe_class

    @classmethod
    def build(cls, tmp_path_factory, probe_class):
        cli = install_cli()
        install = colcon_build(tmp_path_factory.mktemp('ros2_colcon_ws'))
        return cls(cli, install, tmp_path_factory, probe_class)

    @contextlib.contextmanager
    def session(self, name):
        """A :class:`Ros2` on a domain of its own, with an in-process probe node on it (the
        process environment carries the domain while the session lasts)."""
        tmp = self.tmp_path_factory.mktemp(name)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
            probe, domain = self._probe_on_a_free_domain(mp)
            ros2 = Ros2(self, domain, tmp, probe)
            try:
                yield ros2
            finally:
                ros2.close()

    def _probe_on_a_free_domain(self, mp):
        start = os.getpid() + next(_domain_order)
        for i in range(len(DOMAINS)):
            domain = DOMAINS[(start + i) % len(DOMAINS)]
            mp.setenv('ROS_DOMAIN_ID', str(domain))
            probe = self.probe_class()
            time.sleep(1.0)  # localhost discovery of other participants takes well under this
            others = probe.node.get_node_names()
            others.remove('test_probe')  # itself (another session's probe has the same name)
            if not others:
                return probe, domain
            probe.close()
        pytest.fail(f'every ROS domain of {DOMAINS} is in use by other processes')


class Ros2:
    """``ros2 ...`` commands and launches on one domain; ``probe`` listens and talks on it."""

    def __init__(self, cli, domain, tmp, probe):
        self.cli = cli
        self.domain = domain
        self.tmp = tmp
        self.probe = probe
        self.launches = []
        self.env = dict(os.environ)  # keeps the ROS wheels' LD_LIBRARY_PATH set-up
        self.env.update({
            'PYTHONPATH': f'{cli.cli_dir}{os.pathsep}{cli.site}',
            'AMENT_PREFIX_PATH': f'{cli.install}{os.pathsep}{sys.prefix}',
            'ROS_DOMAIN_ID': str(domain),
            'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
            'ROS_LOG_DIR': str(tmp / 'ros_log'),
            'PYTHONUNBUFFERED': '1',
            'RCUTILS_COLORIZED_OUTPUT': '0',
        })

    def argv(self, *args):
        return [self.cli.python, str(self.cli.cli_dir / 'bin' / 'ros2'), *map(str, args)]

    def run(self, *args, timeout=60, check=True):
        """Run ``ros2 args...``; returns the CompletedProcess (stdout and stderr as text)."""
        try:
            result = subprocess.run(self.argv(*args), env=self.env, capture_output=True,
                                    text=True, timeout=timeout, cwd=self.tmp)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f'ros2 {" ".join(map(str, args))} did not finish in {timeout} s\n'
                        f'{exc.stdout or ""}{exc.stderr or ""}\n{self.launch_logs()}')
        if check:
            assert result.returncode == 0, (f'ros2 {" ".join(map(str, args))} -> '
                                            f'{result.returncode}\n{result.stdout}'
                                            f'{result.stderr}\n{self.launch_logs()}')
        return result

    @contextlib.contextmanager
    def launch(self, *args):
        """``ros2 launch contrastive_vla args...`` running for the ``with`` block, then stopped
        with Ctrl-C (and checked: see :meth:`Launch.stop`)."""
        launch = Launch(self, self.argv('launch', 'contrastive_vla', *args),
                        self.tmp / f'launch_{len(self.launches)}.log')
        self.launches.append(launch)
        failed = False
        try:
            yield launch
        except BaseException:
            failed = True
            raise
        finally:
            stopped = launch.stop()
            if not failed:  # a failing test keeps its own message; leftovers were killed
                assert not stopped.leftover, (
                    f'processes outlived the launch: {stopped.leftover}\n{launch.log()}')

    def start(self, *args):
        """``ros2 args...`` in its own session (``ros2 run``): stop it with :meth:`Launch.stop`."""
        launch = Launch(self, self.argv(*args), self.tmp / f'run_{len(self.launches)}.log')
        self.launches.append(launch)
        return launch

    def on_node(self, *args, timeout=30, check=True):
        """``ros2 args...`` that talks to a running node (param, lifecycle), asked again while
        the CLI has not discovered that node yet ('Node not found', seen under load)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.run(*args, check=False)
            missing = 'Node not found' in result.stdout + result.stderr
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        if check:
            assert result.returncode == 0 and not missing, (
                f'ros2 {" ".join(map(str, args))} -> {result.returncode}\n{result.stdout}'
                f'{result.stderr}\n{self.launch_logs()}')
        return result

    def node_list(self, expected, timeout=30):
        """The names ``ros2 node list`` shows, asked again (up to ``timeout`` s) until they
        include ``expected``: the CLI's daemon learns the graph by discovery."""
        deadline = time.monotonic() + timeout
        while True:
            listed = set(self.run('node', 'list').stdout.split())
            if set(expected) <= listed or time.monotonic() > deadline:
                return listed
            time.sleep(1.0)

    def wait_for(self, predicate, timeout, what):
        """Wait until ``predicate()``; fail with every launch's output when it times out or a
        launch ends first."""
        deadline = time.monotonic() + timeout
        while not predicate():
            ended = [launch.log_path.name for launch in self.launches
                     if launch.stopped is None and not launch.alive()]
            if ended or time.monotonic() > deadline:
                pytest.fail(f'{what}: not seen after {timeout} s (ended: {ended})\n'
                            f'{self.launch_logs()}')
            time.sleep(0.05)

    def launch_logs(self):
        return '\n'.join(f'--- {launch.log_path.name} ---\n{launch.log()[-4000:]}'
                         for launch in self.launches)

    def close(self):
        for launch in self.launches:
            launch.stop()
        self.probe.close()
        # the CLI's daemon outlives every command: stop the one of this domain
        subprocess.run(self.argv('daemon', 'stop'), env=self.env, capture_output=True,
                       timeout=60)


class Stopped:
    def __init__(self, returncode, seconds, leftover):
        self.returncode = returncode
        self.seconds = seconds
        self.leftover = leftover  # {pid: cmdline} of processes that outlived the stop


class Launch:
    """A ``ros2`` process started in its own session; its output goes to ``log_path``."""

    def __init__(self, ros2, argv, log_path):
        self.ros2 = ros2
        self.log_path = Path(log_path)
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(argv, env=ros2.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=ros2.tmp,
                                     start_new_session=True)
        self.pgid = self.proc.pid
        self.stopped = None

    def log(self):
        # the child writes the file itself: nothing of it is buffered here
        return self.log_path.read_text(errors='replace')

    def alive(self):
        return self.proc.poll() is None

    def wait_for_log(self, pattern, timeout):
        """The first match of regex ``pattern`` in the output, waiting up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.search(pattern, self.log())
            if match:
                return match
            if time.monotonic() > deadline or not self.alive():
                pytest.fail(f'{pattern!r} not in the output after {timeout} s '
                            f'(running: {self.alive()})\n{self.log()[-6000:]}')
            time.sleep(0.1)

    def processes(self):
        """{pid: cmdline} of live processes of this launch: its process group, and any node
        executable of this session's colcon install (one that left the group)."""
        node_dir = f'{self.ros2.cli.install}/lib/contrastive_vla/'
        found = {}
        for pid in _live_pids():
            stat = _proc_stat(pid)
            if stat is None or stat[0] == 'Z':  # gone, or dead and waiting to be reaped
                continue
            cmdline = _cmdline(pid)
            if stat[1] == self.pgid or node_dir in cmdline:
                found[pid] = cmdline
        return found

    def node_exits(self):
        """{process name: exit code} as ``ros2 launch`` reported them."""
        exits = {}
        for match in re.finditer(r'\[(?:INFO|ERROR)\] \[([\w.-]+)\]: process has '
                                 r'(finished cleanly|died \[pid \d+, exit code (-?\d+))',
                                 self.log()):
            exits[match.group(1)] = 0 if match.group(3) is None else int(match.group(3))
        return exits

    def stop(self, timeout=15.0):
        """Ctrl-C: SIGINT to the process group, wait up to ``timeout`` s for every process of
        it to end (SIGKILL after that). Returns :class:`Stopped` (what outlived the SIGINT)."""
        if self.stopped is not None:
            return self.stopped
        started = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGINT)
        deadline = started + timeout
        leftover = self.processes()
        while leftover and time.monotonic() < deadline:
            time.sleep(0.1)
            self.proc.poll()
            leftover = self.processes()
        seconds = time.monotonic() - started
        for pid in leftover:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            returncode = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            returncode = None
        self._log.close()
        self.stopped = Stopped(returncode, seconds, leftover)
        return self.stopped
