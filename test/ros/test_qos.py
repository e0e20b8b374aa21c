"""ros/qos.py: every subscription matches the publishers that feed it (the graph's own and a
hand-typed ``ros2 topic pub``), the README table is the generated one, a running graph reports
the QoS the table says (what ``ros2 topic info -v`` shows), and the e-stop input's rules."""

from collections import defaultdict
from pathlib import Path
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from rclpy.qos import (  # noqa: E402  (after the skip: rclpy may be absent)
    DurabilityPolicy,
    QoSCompatibility,
    QoSPresetProfiles,
    qos_check_compatible,
)

from contrastive_vla.core.topics import load_topics, topic  # noqa: E402
from contrastive_vla.ros import qos  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def compatible(pub, sub):
    # ERROR = DDS refuses the match; WARNING here only says liveliness is left to the system
    verdict = qos_check_compatible(qos.PROFILES[pub], qos.PROFILES[sub])[0]
    return verdict != QoSCompatibility.ERROR


def test_default_is_what_ros2_topic_pub_uses():
    # ros2topic's pub verb: --qos-profile default, no overrides
    cli = QoSPresetProfiles.get_from_short_key('default')
    for field in ('reliability', 'durability', 'history', 'depth'):
        assert getattr(qos.DEFAULT, field) == getattr(cli, field), field


def test_every_endpoint_names_a_known_topic_profile_and_side():
    keys = set(load_topics())
    for e in qos.ENDPOINTS:
        assert e.topic in keys and e.profile in qos.PROFILES and e.side in ('pub', 'sub'), e


def test_subscriptions_match_their_publishers_and_a_hand_typed_one():
    subs = defaultdict(list)   # (node, topic) -> profiles of its subscriptions
    for e in qos.ENDPOINTS:
        if e.side == 'sub':
            subs[e.node, e.topic].append(e.profile)
    for (node, key), profiles in subs.items():
        for pub in (e for e in qos.ENDPOINTS if e.topic == key and e.side == 'pub'):
            assert any(compatible(pub.profile, p) for p in profiles), (
                f'{node} never hears {pub.node} on {key}')
        if key not in qos.OURS_ONLY:
            assert any(compatible('default', p) for p in profiles), (
                f'{node} does not hear `ros2 topic pub {topic(key).name}`')
        # a latched publisher's history reaches a node only through a latched subscription
        if any(e.topic == key and e.side == 'pub' and e.profile == 'latched'
               and e.node != qos.HAND_TYPED for e in qos.ENDPOINTS):
            assert 'latched' in profiles, f'{node} misses the history of {key}'


def test_the_e_stop_is_fed_by_default_qos_and_relayed_latched():
    estop = {e.node: e.profile for e in qos.ENDPOINTS if e.topic == 'estop' and e.side == 'sub'}
    assert estop == dict.fromkeys(('instruction_listener', 'vla', 'arm_bridge'), 'default')
    for key in ('estop_state', 'listener_stop'):   # the relay; the listener's own stop
        relay = [e for e in qos.ENDPOINTS if e.topic == key]
        assert {(e.node, e.side, e.profile) for e in relay} == {
            ('instruction_listener', 'pub', 'latched'), ('vla', 'sub', 'latched'),
            ('arm_bridge', 'sub', 'latched')}, key


def test_readme_qos_table_is_the_generated_one():
    readme = (REPO / 'README.md').read_text()
    assert f'<!-- qos:topics -->\n{qos.markdown_table()}\n' in readme, (
        'README QoS table is out of date: regenerate it from contrastive_vla.ros.qos.'
        'markdown_table()')


@pytest.fixture
def estop_input(monkeypatch):
    """A real node with an EstopInput; the test calls its subscriptions' callbacks directly, in
    a chosen order (the graph tests below check delivery)."""
    from std_msgs.msg import Bool

    from contrastive_vla.ros.runtime import SpunNode

    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    spun, heard = SpunNode('estop_input_probe'), []
    try:
        qos.EstopInput(spun.node, heard.append)
        subs = {s.topic_name.lstrip('/'): s for s in spun.node.subscriptions}
        assert subs['estop'].qos_profile.durability == DurabilityPolicy.VOLATILE
        assert subs['estop_state'].qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
        assert subs['listener_stop'].qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL

        def say(name, value):
            callback = subs[name].callback
            # the listener's topics take rclpy's message info (None here: unchecked)
            extra = (None,) if name in ('estop_state', 'listener_stop') else ()
            callback(Bool(data=value), *extra)
            return heard[-1]

        yield say
    finally:
        spun.start()
        spun.close()


def test_estop_input_raised_by_either_released_by_the_newest_word(estop_input):
    say = estop_input
    assert say('estop', True) is True                  # ros2 topic pub: raised at once
    assert say('estop_state', True) is True            # the listener relays it
    assert say('estop_state', False) is False          # a release the bridge missed on estop
    assert say('estop_state', True) is True            # the listener relays another raise
    # released from outside: a stop word's raise holds until the listener relays the release
    assert say('estop', False) is True
    assert say('estop_state', False) is False


def test_estop_input_a_stale_release_does_not_lift_an_unconfirmed_raise(estop_input):
    say = estop_input
    assert say('estop_state', True) is True            # an older raise, relayed
    assert say('estop', True) is True                  # an outside raise the listener missed
    # the listener relays an older release: the outside raise holds
    assert say('estop_state', False) is True
    assert say('estop', False) is False                # only a release on estop lifts it


def test_estop_input_the_listeners_stop_is_a_holder_of_its_own(estop_input):
    say = estop_input
    assert say('estop', True) is True                  # outside
    assert say('listener_stop', True) is True          # "stop"
    # "stop", then a new task sentence: the listener releases its own stop only (issue 17 S2)
    assert say('listener_stop', False) is True
    assert say('estop', False) is False
    assert say('listener_stop', True) is True
    assert say('estop', False) is True                 # an outside release: the stop holds
    assert say('listener_stop', False) is False


def spin_until(executor, predicate, deadline):
    """Spin ``executor`` until ``predicate()`` or the monotonic ``deadline``; the predicate's
    last value."""
    while not predicate() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    return predicate()


def test_only_the_listener_releases_its_stops_anyone_raises_them(ros_context):
    """A stray publisher's False on listener_stop / estop_state (``ros2 topic pub``, a
    test node) is ignored and counted; the listener's own release counts; a raise counts from
    anyone. Real publishers on a private domain: the sender comes from the message info."""
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import Bool

    make = ros_context()
    guard, stranger, listener = make('guard'), make('stranger'), make('instruction_listener')
    heard = []
    estop = qos.EstopInput(guard, heard.append, '/instruction_listener')
    executor = SingleThreadedExecutor(context=guard.context)
    executor.add_node(guard)
    pubs = {(who.get_name(), key): who.create_publisher(Bool, topic(key).name, qos.latched())
            for who in (stranger, listener) for key in ('listener_stop', 'estop_state')}

    def say(who, key, value):
        pub = pubs[who, key]
        deadline = time.monotonic() + 10
        spin_until(executor, lambda: pub.get_subscription_count() >= 1, deadline)
        count = len(heard)
        pub.publish(Bool(data=value))
        assert spin_until(executor, lambda: len(heard) > count, deadline), (
            f'{who} on {key} never arrived')
        return estop.raised

    try:
        assert say('instruction_listener', 'listener_stop', True) is True   # "stop"
        assert say('stranger', 'listener_stop', False) is True              # ignored
        assert estop.listener and estop.refused_releases == 1
        assert say('stranger', 'estop_state', True) is True                 # a raise counts
        assert say('instruction_listener', 'listener_stop', False) is True  # outside holds
        assert not estop.listener
        assert say('stranger', 'estop_state', False) is True                # ignored
        assert estop.refused_releases == 2
        assert say('instruction_listener', 'estop_state', False) is False   # the relay
    finally:
        executor.shutdown()


@pytest.mark.parametrize('profile, both_heard', [('joint_states', True), ('sensor', False)])
def test_joint_states_from_two_publishers_back_to_back_are_both_taken(ros_context, profile,
                                                                      both_heard):
    """An arm driver and a gripper driver publish back to back; a node busy elsewhere takes
    both messages later. The joint_states profile keeps both; keep-last 1 (``sensor``, what
    the nodes used before a loaded CI run showed it) keeps only the second, so the arm's
    joints are never heard. Real publishers on a private domain, the subscriber not spinning
    while they publish."""
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState

    make = ros_context()
    node, arm, gripper = make('consumer'), make('arm_driver'), make('gripper_driver')
    heard = []
    node.create_subscription(JointState, topic('joint_states').name,
                             lambda m: heard.append(tuple(m.name)), qos.PROFILES[profile])
    pubs = [who.create_publisher(JointState, topic('joint_states').name, qos.DEFAULT)
            for who in (arm, gripper)]
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        assert spin_until(executor, lambda: min(p.get_subscription_count() for p in pubs) >= 1,
                          time.monotonic() + 20), 'no discovery'
        pubs[0].publish(JointState(name=['shoulder_pan_joint'], position=[0.1]))
        pubs[1].publish(JointState(name=['left_finger_joint'], position=[0.02]))
        time.sleep(1.0)   # both delivered into the subscription's history, nobody taking
        spin_until(executor, lambda: len(heard) == 2, time.monotonic() + 1.0)
        assert ('left_finger_joint',) in heard   # the newest is always taken
        assert (('shoulder_pan_joint',) in heard) is both_heard, heard
    finally:
        executor.shutdown()
