"""Running a node process and the bits every node shares (diagnostics, throttled warnings)."""

import gc
import inspect
import re
import signal
import sys
import threading
import time

from contrastive_vla.control.heartbeat import (
    SenderRegistry,
    gid_key,
    node_fqn,
    resolve_node,
    sender_gid,
)
from contrastive_vla.core.topics import topic


class NodeStartupError(RuntimeError):
    """A node cannot start (bad parameter, missing model): logged as one line, exit code 1."""


def resolved_node(node, owner, param):
    """The fully qualified name of the node that ``node``'s parameter ``param`` names (a
    relative name is in ``node``'s namespace); a bad one stops ``owner`` in one line."""
    try:
        return resolve_node(node.p[param], node.get_namespace())
    except ValueError as exc:
        raise NodeStartupError(f'{owner}: parameter {param}: {exc}') from None


class GraphSenders(SenderRegistry):
    """Who sent a message: ``control.heartbeat.SenderRegistry`` over ``node``'s view of the ROS
    graph (publisher gid -> its node's fully qualified name)."""

    def __init__(self, node):
        super().__init__(lambda name: {
            gid_key(info.endpoint_gid): node_fqn(info.node_namespace, info.node_name)
            for info in node.get_publishers_info_by_topic(name)})

    def sender_of(self, key, info, now):
        """The node that published a message on topic ``key`` (``info``: rclpy's message
        info; None: not known)."""
        return self.node_of(topic(key).name, sender_gid(info), now)


def freeze_heap():
    """Collect, then move every object alive now (imported libraries, a loaded model) out of
    the garbage collector's reach for good. A full collection over the VLA node's ~380,000
    objects took 0.4-0.55 s on this project's 2-core machine: a pause that would land in the
    middle of a decision; after this it scans only what was made since. Call once what stays
    is loaded (a node built, a model configured)."""
    gc.collect()
    gc.freeze()


def run_node(factory, args=None, poll=0.1):
    """rclpy.init, build the node, spin until Ctrl-C / SIGTERM / shutdown, tear down cleanly.

    Ctrl-C and SIGTERM only ask the spin loop to stop (checked every ``poll`` s): rclpy's own
    handlers would shut the context down inside the signal, before the node could say another
    word, and a managed node (the arm bridge) must still send its hold. So on the way out a
    managed node goes through its lifecycle ``shutdown`` transition (:func:`shutdown_managed`:
    the bridge halts the arm first) while the context is alive, then it is destroyed.

    Returns the process exit code: 0 after a normal shutdown, 1 when the node could not start.
    """
    # deferred: launch files import this module; rclpy loads when a node runs
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda _signum, _frame: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    rclpy.init(args=args if args is not None else sys.argv,
               signal_handler_options=SignalHandlerOptions.NO)
    node, code = None, 0
    try:
        node = factory()
        freeze_heap()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=poll)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except NodeStartupError as exc:
        print(f'[ERROR] {exc}', file=sys.stderr, flush=True)
        code = 1
    finally:
        if node is not None:
            if rclpy.ok():
                shutdown_managed(node)
            node.destroy_node()
        rclpy.try_shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


# ---- managed (lifecycle) nodes ---------------------------------------------------------------
def lifecycle_state(node):
    """The label of a managed node's lifecycle state ('unconfigured', 'inactive', 'active',
    'finalized', or a transition state); None for a plain node."""
    machine = getattr(node, '_state_machine', None)  # rclpy keeps no public getter
    return None if machine is None else machine.current_state[1]


def start_managed(node, autostart):
    """At start-up, a managed node configures itself, and with ``autostart`` activates too.

    Called at the end of the node's constructor, so ``ros2 run``, ``ros2 launch`` (a plain
    launch_ros Node), the embedded launcher and ``rclpy.spin(Node())`` all start it the same
    way, without a lifecycle manager. A failed configure leaves it unconfigured and alive (the
    node logged why; ``ros2 lifecycle set NODE configure`` tries again). Returns the state.
    """
    # deferred: launch files import this module; rclpy loads when a node runs
    from rclpy.lifecycle import TransitionCallbackReturn

    name = node.get_fully_qualified_name()
    if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
        node.get_logger().error(f'configure failed: {name} stays unconfigured (fix the cause, '
                                f'then: ros2 lifecycle set {name} configure)')
    elif autostart:
        node.trigger_activate()
    else:
        node.get_logger().info(f'configured and inactive (autostart false); enable it with: '
                               f'ros2 lifecycle set {name} activate')
    return lifecycle_state(node)


def shutdown_managed(node):
    """The lifecycle ``shutdown`` transition of a managed node not yet finalized (the node's
    on_shutdown halts what it drives first); nothing for a plain node."""
    if lifecycle_state(node) in ('unconfigured', 'inactive', 'active'):
        node.trigger_shutdown()


class ConfiguredEntities:
    """The publishers, subscriptions and timers a managed node creates in ``on_configure``
    (``with ConfiguredEntities(node) as self.entities: ...``), so that ``on_cleanup`` /
    ``on_shutdown`` destroy exactly those (:meth:`destroy`) and a configure that fails half
    way leaves nothing behind."""

    def __init__(self, node):
        self.node = node
        self.created = []
        self._before = set(map(id, self._all()))

    def _all(self):
        return [*self.node.publishers, *self.node.subscriptions, *self.node.timers]

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        self.created = [e for e in self._all() if id(e) not in self._before]
        if exc_type is not None:
            self.destroy()

    def destroy(self):
        # deferred: launch files import this module; rclpy loads when a node runs
        from rclpy.lifecycle import LifecyclePublisher
        from rclpy.publisher import Publisher
        from rclpy.subscription import Subscription

        for entity in self.created:
            if isinstance(entity, LifecyclePublisher):
                self.node.destroy_lifecycle_publisher(entity)
            elif isinstance(entity, Publisher):
                self.node.destroy_publisher(entity)
            elif isinstance(entity, Subscription):
                self.node.destroy_subscription(entity)
            else:
                self.node.destroy_timer(entity)
        self.created = []


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


# ---- untrusted messages ----------------------------------------------------------------------
MESSAGE_FAULT_THROTTLE = 5.0  # s between repeated warnings of one topic's failing handler


def guarded(node, name, callback):
    """``callback`` of a subscription to topic ``name``, made crash-proof: any Exception it
    raises on a message (a RecursionError from a deeply nested payload, an OverflowError from
    a huge number, a bug) drops that message instead of killing the node's process.

    Not silent: the first failure on a topic is logged as an error with the exception type,
    later ones as at most one warning per reason (the exception, numbers blanked) every
    MESSAGE_FAULT_THROTTLE s, saying how many like it were not logged (:func:`warn_by_reason`);
    ``node.message_faults`` counts them by topic and :func:`diagnostics` reports the total as
    ``bad_messages``. BaseExceptions (KeyboardInterrupt, SystemExit) pass through.
    Every node wires its subscriptions through this:
    ``node.create_subscription(String, ..., guarded(node, 'episode_request', self.on_request),
    qos)``.

    A callback that takes a second argument (``def on_x(self, msg, info=None)``) gets rclpy's
    message info (a dict: ``publisher_gid``, timestamps), e.g. to check who sent it; the
    guarded callback then tells rclpy it wants the info, and can still be called with the
    message alone (info None), as tests do."""
    wants_info = _takes_two(callback)

    def guarded_callback(msg, msg_info=None):
        try:
            return callback(msg, msg_info) if wants_info else callback(msg)
        except Exception as exc:  # noqa: BLE001 - untrusted input: logged and counted below
            _message_fault(node, name, exc)
            return None

    guarded_callback.__wrapped__ = callback
    # rclpy passes the message info only to a callback that cannot be called with one
    # argument: advertise (msg, msg_info) without the default when the callback wants it
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
              for n in (('msg', 'msg_info') if wants_info else ('msg',))]
    guarded_callback.__signature__ = inspect.Signature(params)
    return guarded_callback


def _takes_two(callback):
    try:
        inspect.signature(callback).bind(object(), object())
    except (TypeError, ValueError):
        return False
    return True


def _message_fault(node, name, exc):
    faults = node.__dict__.setdefault('message_faults', {})
    faults[name] = faults.get(name, 0) + 1
    # throttled per reason (the topic and the exception, numbers blanked), so a second kind
    # of fault on a topic is heard at once; a topic's first fault is an error
    warn_by_reason(node, f'{name}: message ignored, its handler raised '
                         f'{type(exc).__name__}: {str(exc)[:200]}',
                   period=MESSAGE_FAULT_THROTTLE, level='error' if faults[name] == 1 else
                   'warning')


_NUMBER = re.compile(r'[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?')


class ReasonThrottle:
    """At most one line per *reason* every ``period`` seconds.

    rclpy's ``throttle_duration_sec`` throttles a call site: after "joint state has 6 names
    but 3 positions" the node said nothing about a non-finite joint state for the next
    5 s, though that is another fault a user needs to see. Here the reason is the message
    with its numbers blanked ("6 names but 3 positions" and "4 names but 2 positions" are one
    reason, "non-finite position" another). A garbage stream of ever-new reasons cannot flood
    the log: at most ``burst`` distinct reasons are logged per ``period``, and only the
    ``max_reasons`` most recent are remembered."""

    def __init__(self, period: float, burst: int = 8, max_reasons: int = 64):
        self.period, self.burst, self.max_reasons = period, burst, max_reasons
        self.reasons: dict[str, list] = {}  # reason -> [time last logged, suppressed since]
        self.overflow = 0  # lines dropped because too many distinct reasons came at once

    @staticmethod
    def reason(message: str) -> str:
        return _NUMBER.sub('#', message)[:240]

    def admit(self, message: str, now: float) -> int | None:
        """None: do not log ``message`` now; else how many lines of its reason were not
        logged since the last one that was."""
        key = self.reason(message)
        entry = self.reasons.get(key)
        if entry is not None and now - entry[0] < self.period:
            entry[1] += 1
            return None
        recent = sum(1 for when, _ in self.reasons.values() if now - when < self.period)
        if entry is None and recent >= self.burst:
            self.overflow += 1
            return None
        self.reasons.pop(key, None)
        self.reasons[key] = [now, 0]
        while len(self.reasons) > self.max_reasons:
            self.reasons.pop(next(iter(self.reasons)))  # the least recently logged
        return entry[1] if entry is not None else 0


def log_at(node, level, text):
    """Log ``text`` on ``node`` at ``level`` ('info', 'warning' or 'error'), one call site per
    severity: rclpy raises ValueError ("Logger severity cannot be changed between calls") when
    one line logs at two severities, which once escaped a handler guard and killed the bridge.
    Use it wherever the severity is chosen at run time."""
    logger = node.get_logger()
    if level == 'error':
        logger.error(text)
    elif level == 'warning':
        logger.warning(text)
    elif level == 'info':
        logger.info(text)
    else:
        raise ValueError(f"level must be 'info', 'warning' or 'error', not {level!r}")


def warn_by_reason(node, message, period=5.0, level='warning'):
    """Log ``message`` on ``node`` unless one with the same reason was logged in the last
    ``period`` s (:class:`ReasonThrottle`); a line says how many like it were held back.
    Use it for refused input, where two faults in a row must both be heard."""
    if level not in ('error', 'warning'):
        raise ValueError(f"level must be 'error' or 'warning', not {level!r}")
    throttles = node.__dict__.setdefault('_reason_throttles', {})
    throttle = throttles.setdefault(period, ReasonThrottle(period))
    held = throttle.admit(message, time.monotonic())
    if held is None:
        return False
    suffix = f' ({held} more like it since the last such line)' if held else ''
    log_at(node, level, message + suffix)
    return True


def message_faults(node):
    """How many messages :func:`guarded` callbacks of ``node`` dropped, over all topics."""
    return sum(getattr(node, 'message_faults', {}).values())


def diagnostics(node, name, level, message, values):
    """A ``diagnostic_msgs/DiagnosticArray`` with one status (level: 'ok' | 'warn' | 'error')."""
    # deferred: launch files import this module; rclpy loads when a node runs
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    levels = {'ok': DiagnosticStatus.OK, 'warn': DiagnosticStatus.WARN,
              'error': DiagnosticStatus.ERROR}
    status = DiagnosticStatus(level=levels[level], name=name, message=message,
                              hardware_id=node.get_fully_qualified_name(),
                              values=[KeyValue(key=str(k), value=str(v))
                                      for k, v in {**values,
                                                   'bad_messages': message_faults(node)}.items()])
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
