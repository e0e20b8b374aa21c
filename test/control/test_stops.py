"""control/stops.py: the stop as independent holders; the outside e-stop heard on two paths."""

import pytest

from contrastive_vla.control.stops import HOLDERS, OutsideStop, StopHolders


def test_the_arm_moves_only_when_no_holder_holds():
    holders = StopHolders()
    assert not holders.held and holders.summary() == ''
    assert holders.raise_('outside', 'the e-stop is raised on estop')
    assert holders.raise_('listener', 'a stop sentence')
    assert not holders.raise_('listener', 'another stop sentence')  # already held
    assert holders.held and list(holders.reasons) == ['outside', 'listener']
    assert holders.summary() == ('held by outside: the e-stop is raised on estop; listener: '
                                 'another stop sentence')


def test_a_holder_releases_only_its_own_stop():
    holders = StopHolders()
    holders.raise_('outside', 'estop')
    holders.raise_('listener', 'stop')
    # the listener releases its stop on a new task sentence: the outside e-stop still holds
    assert holders.release('listener')
    assert holders.held and holders.reasons == {'outside': 'estop'}
    assert not holders.release('listener')  # nothing of its own left to release
    assert holders.release('outside') and not holders.held


def test_set_and_unknown_holders():
    holders = StopHolders()
    assert set(HOLDERS) >= {'outside', 'listener', 'watchdog', 'lifecycle', 'joint_states'}
    assert holders.set('joint_states', True, 'two publishers')
    assert not holders.set('joint_states', True, 'a jump')
    assert holders.reasons == {'joint_states': 'a jump'}
    assert holders.set('joint_states', False) and not holders.held
    with pytest.raises(ValueError, match='unknown stop holder'):
        holders.raise_('somebody', 'why not')


def test_outside_stop_raised_by_either_path_released_by_the_newest_word():
    stop = OutsideStop()
    assert stop.heard_direct(True)            # ros2 topic pub: raised at once
    assert stop.heard_relayed(True)           # the listener relays it
    assert not stop.heard_relayed(False)      # a release this node missed on estop
    assert stop.heard_relayed(True)           # the listener relays another raise
    assert stop.heard_direct(False)           # the relay still says raised
    assert not stop.heard_relayed(False)


def test_outside_stop_a_relayed_release_does_not_lift_an_unconfirmed_raise():
    stop = OutsideStop()
    assert stop.heard_direct(True)            # a raise the listener never heard
    assert stop.heard_relayed(False)          # the listener relays an older release
    assert not stop.heard_direct(False)       # only a release on estop lifts it
