"""control/heartbeat.py: senders resolved from the graph; a watchdog fed only by the VLA node
and the node whose primitive runs (S6: a second publisher on vla_status cannot keep a dead VLA
node alive)."""

import pytest

from contrastive_vla.control.heartbeat import (
    CheckedWatchdog,
    SenderRegistry,
    node_fqn,
    resolve_node,
)


def test_node_names():
    assert node_fqn('/', 'vla') == '/vla'
    assert node_fqn('/robot1', 'vla') == '/robot1/vla'
    assert resolve_node('vla', '/robot1') == '/robot1/vla'
    assert resolve_node('/other/vla', '/robot1') == '/other/vla'
    with pytest.raises(ValueError):
        resolve_node(' ', '/')


def test_registry_caches_and_retries_unknown_senders_at_most_every_period():
    graph = {'vla_status': {b'vla': '/vla'}}
    calls = []

    def lookup(topic):
        calls.append(topic)
        return dict(graph[topic])

    senders = SenderRegistry(lookup, retry_period=0.2)
    assert senders.node_of('vla_status', b'vla', 0.0) == '/vla'
    assert senders.node_of('vla_status', b'vla', 0.01) == '/vla' and len(calls) == 1  # cached
    # a publisher the graph does not know yet: looked up again only after retry_period
    for i in range(50):
        assert senders.node_of('vla_status', b'new', 0.02 + i * 0.001) is None
    assert len(calls) == 1
    graph['vla_status'][b'new'] = '/impostor'
    assert senders.node_of('vla_status', b'new', 0.1) is None      # not yet retried
    assert senders.node_of('vla_status', b'new', 0.3) == '/impostor' and len(calls) == 2
    assert senders.node_of('vla_status', None, 0.3) is None
    assert senders.label('vla_status', b'\x01\x02', 1.0) == 'publisher 0102'


def test_an_endpoint_whose_node_the_graph_cannot_name_yet_is_looked_up_again():
    # what rmw reports for a new publisher before its node's discovery message came in
    graph = {'vla_status': {b'vla': '/_NODE_NAMESPACE_UNKNOWN_/_NODE_NAME_UNKNOWN_'}}
    senders = SenderRegistry(lambda topic: dict(graph[topic]), retry_period=0.2)
    assert senders.node_of('vla_status', b'vla', 0.0) is None
    assert senders.label('vla_status', b'vla', 0.0) == 'publisher 766c61'
    graph['vla_status'][b'vla'] = '/vla'
    assert senders.node_of('vla_status', b'vla', 0.3) == '/vla'   # named once it is known
    watchdog = CheckedWatchdog(0.5, '/vla')
    assert watchdog.heard(senders.node_of('vla_status', b'vla', 0.4), 0.4)


def test_only_the_vla_node_and_the_commander_feed_the_watchdog():
    dog = CheckedWatchdog(0.5, '/vla')
    assert dog.heard('/vla', 1.0) and not dog.expired(1.4)
    # an impostor publishing on vla_status every 0.1 s does not keep it alive
    for k in range(10):
        assert not dog.heard('/impostor', 1.1 + 0.1 * k)
    assert dog.expired(1.6)
    assert dog.ignored == {'/impostor': 10} and not dog.warn_now('/impostor')
    assert not dog.heard(None, 1.7) and not dog.warn_now(None)   # unknown: discovery may lag
    for _ in range(19):
        dog.heard(None, 1.7)
    assert dog.warn_now(None)  # the 20th
    # teleoperation (no VLA node): the node whose primitive runs is watched while it runs
    dog.start('/teleop', 2.0)
    assert not dog.expired(2.4) and dog.heard('/teleop', 2.4) and not dog.expired(2.8)
    dog.finish()
    assert not dog.heard('/teleop', 3.0)
    assert dog.ignored_total() == 31 and '/impostor (10)' in dog.describe_ignored()


def test_timeout_is_validated():
    dog = CheckedWatchdog(1.0, '/vla')
    with pytest.raises(ValueError):
        dog.set_timeout(0.0)
    dog.set_timeout(0.3)
    assert dog.timeout == 0.3
