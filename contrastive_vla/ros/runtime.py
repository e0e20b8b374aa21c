"""Running a node process and the bits every node shares (diagnostics, throttled warnings)."""

import sys
import threading
import time


class NodeStartupError(RuntimeError):
    """A node cannot start (bad parameter, missing model): logged as one line, exit code 1."""


def run_node(factory, args=None):
    """rclpy.init, build the node, spin until Ctrl-C / shutdown, tear down cleanly.

    Returns the process exit code: 0 after a normal shutdown, 1 when the node could not start.
    """
    # deferred: launch files import this module; rclpy loads when a node runs
    import rclpy
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=args if args is not None else sys.argv)
    node, code = None, 0
    try:
        node = factory()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except NodeStartupError as exc:
        print(f'[ERROR] {exc}', file=sys.stderr, flush=True)
        code = 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code


class SpunNode:
    """An in-process helper node spun by its own executor in a daemon thread: the demo and
    evaluation driver, teleop's ROS arm and the tests' probe all use this one recipe.

    ``own_context``: a private rclpy context (several helpers in one process stay apart);
    False uses the default context, initialising it only if nobody has. Create publishers and
    subscriptions on ``node``, then :meth:`start`; :meth:`close` tears it down without hanging.
    """

    def __init__(self, name, namespace='', own_context=True):
        # deferred: launch files import this module; rclpy loads when a node runs
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        if own_context:
            self.context = rclpy.Context()
            rclpy.init(context=self.context)
            self._owns_context = True
        else:
            self.context = None
            self._owns_context = not rclpy.ok()
            if self._owns_context:
                rclpy.init()
        self.node = rclpy.create_node(name, namespace=namespace or None, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True,
                                       name=f'spin_{name}')

    def start(self):
        self.thread.start()
        return self

    def close(self, timeout=15.0):
        """Stop spinning and destroy the node (see :func:`close_spun_node`)."""
        return close_spun_node(self.node, self.executor, self.thread, context=self.context,
                               shutdown=self._owns_context, timeout=timeout)


def close_spun_node(node, executor, thread, context=None, shutdown=True, timeout=15.0):
    """Tear down a node spun by ``executor`` in ``thread`` (an in-process helper node).

    rclpy's ``destroy_node`` can block forever on a publisher it still counts as in use (seen
    in teardown under full CPU load, with the spin thread already gone); a helper that is
    closing must not hang its process for that, so a destroy that does not finish within
    ``timeout`` s is abandoned (it runs in a daemon thread) and False is returned.
    ``shutdown``: also shut down ``context`` (None: the default context).
    """
    # deferred: launch files import this module; rclpy loads when a node runs
    import rclpy

    executor.shutdown(timeout_sec=5)
    if thread.ident is not None:  # started
        thread.join(timeout=5)

    def destroy():
        node.destroy_node()
        if shutdown:
            rclpy.try_shutdown(context=context)

    closer = threading.Thread(target=destroy, name='close_spun_node', daemon=True)
    closer.start()
    closer.join(timeout=timeout)
    return not closer.is_alive()


def diagnostics(node, name, level, message, values):
    """A ``diagnostic_msgs/DiagnosticArray`` with one status (level: 'ok' | 'warn' | 'error')."""
    # deferred: launch files import this module; rclpy loads when a node runs
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    levels = {'ok': DiagnosticStatus.OK, 'warn': DiagnosticStatus.WARN,
              'error': DiagnosticStatus.ERROR}
    status = DiagnosticStatus(level=levels[level], name=name, message=message,
                              hardware_id=node.get_fully_qualified_name(),
                              values=[KeyValue(key=str(k), value=str(v))
                                      for k, v in values.items()])
    return DiagnosticArray(header=_header_now(node), status=[status])


def _header_now(node):
    # deferred: launch files import this module; rclpy loads when a node runs
    from std_msgs.msg import Header

    return Header(stamp=node.get_clock().now().to_msg())


class RateMeter:
    """Events per second over a sliding window (wall clock)."""

    def __init__(self, window=2.0):
        self.window = window
        self.times = []

    def tick(self, now=None):
        now = time.monotonic() if now is None else now
        self.times.append(now)
        while self.times and now - self.times[0] > self.window:
            self.times.pop(0)

    def rate(self, now=None):
        now = time.monotonic() if now is None else now
        recent = [t for t in self.times if now - t <= self.window]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9)
