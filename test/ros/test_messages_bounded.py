"""Bounded parsing of untrusted JSON messages (``messages.parse_json``): a payload too large,
too deeply nested, with a non-finite number or a huge integer is refused with a reason, and no
input of any kind makes it raise."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

pytest.importorskip('rclpy')

from std_msgs.msg import (  # noqa: E402
    Float64MultiArray,
    MultiArrayDimension,
    MultiArrayLayout,
    String,  # noqa: E402
)

from contrastive_vla.ros import messages  # noqa: E402

HOSTILE = ['[' * 5000, '{"a":' * 5000, '1' * 400, '{"seed": ' + '9' * 400 + '}',
           '{"seed": Infinity}', '{"seed": -Infinity}', '{"seed": NaN}', '{"seed": 1e400}',
           '{"decision": ' + '1' * 400 + '}', '{"x": "' + 'a' * 200_000 + '"}', '', '\x00',
           '{"a": "\\ud800"}', '[]', '"text"', 'null', '{"seed": -1e400}']


@pytest.mark.parametrize('text', HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_payloads_are_refused_with_a_reason(text):
    value, reason = messages.parse_json_checked(String(data=text))
    if value is not None:  # only the harmless dict with a lone surrogate gets through
        assert text == '{"a": "\\ud800"}'
        return
    assert reason
    assert messages.parse_json(String(data=text)) is None


@pytest.mark.parametrize('text,word', [
    ('[' * 5000, 'nest'), ('{"seed": 1e400}', 'finite'), ('{"seed": Infinity}', 'Infinity'),
    ('{"seed": ' + '9' * 400 + '}', 'digits'), ('{"x": "' + 'a' * 200_000 + '"}', 'characters'),
    ('[1, 2]', 'object')])
def test_reasons_say_what_is_wrong(text, word):
    value, reason = messages.parse_json_checked(String(data=text))
    assert value is None and word in reason, reason


def test_ordinary_payloads_still_parse():
    payload = {'task': 'reach_red', 'seed': 2 ** 63 - 1, 'stamp': 1.5, 'nested': [[{'a': None}]],
               'text': 'a [ { " \\ ] }', 'image_stamp_ns': 1_700_000_000_123_456_789}
    assert messages.parse_json(messages.json_string(payload)) == payload
    assert messages.parse_json(String(data='{"n": -12, "x": -1.5e-300}')) == {'n': -12,
                                                                              'x': -1.5e-300}


def test_bounded_int():
    assert messages.bounded_int(5, 0, 10) == 5
    assert messages.bounded_int(np.int64(5), 0, 10) == 5
    for bad in (True, 1.0, float('inf'), '5', None, [5], -1, 11, 10 ** 400):
        assert messages.bounded_int(bad, 0, 10) is None, bad


json_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(json_leaves, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_parse_json_never_raises_on_text(text):
    value, reason = messages.parse_json_checked(String(data=text))
    assert (value is None) != (reason is None)
    assert value is None or isinstance(value, dict)


@settings(max_examples=200, deadline=None)
@given(json_values, st.integers(min_value=0, max_value=60))
def test_parse_json_never_raises_on_json(value, depth):
    text = json.dumps(value)  # NaN / Infinity and huge ints included
    text = '[' * depth + text + ']' * depth if depth % 2 else '{"k":' * depth + text + '}' * depth
    parsed, reason = messages.parse_json_checked(String(data=text))
    assert parsed is None or isinstance(parsed, dict)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(), max_size=20),
       st.lists(st.tuples(st.sampled_from(['delta', 'decision', 'image_stamp', '[' * 50, '']),
                          st.integers(0, 2 ** 32 - 1), st.integers(0, 2 ** 32 - 1)), max_size=5))
def test_parse_delta_command_never_raises(data, dims):
    msg = Float64MultiArray(layout=MultiArrayLayout(dim=[
        MultiArrayDimension(label=label, size=size, stride=stride)
        for label, size, stride in dims]), data=data)
    command = messages.parse_delta_command(msg)
    assert command.delta.shape == (len(data),)
    assert command.image_stamp_ns is None or command.image_stamp_ns >= 0


def test_diagnostic_values_are_those_of_the_named_node():
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

    from contrastive_vla.ros.messages import diagnostic_values

    msg = DiagnosticArray(status=[
        DiagnosticStatus(name='contrastive_vla: camera', values=[KeyValue(key='frames',
                                                                          value='30')]),
        DiagnosticStatus(name='contrastive_vla: arm_bridge', values=[
            KeyValue(key='lifecycle', value='active'), KeyValue(key='held_by', value='none')])])
    assert diagnostic_values(msg, 'arm_bridge') == {'lifecycle': 'active', 'held_by': 'none'}
    assert diagnostic_values(msg, 'camera') == {'frames': '30'}
    assert diagnostic_values(msg, 'vla') is None


def test_the_bridge_holders_read_back_as_written():
    from contrastive_vla.ros.messages import held_by, held_by_text

    for holders in ({}, {'watchdog': 'VLA node silent'}, {'outside': 'e-stop', 'stuck': 'x'}):
        text = held_by_text(holders)
        assert held_by({'held_by': text}) == set(holders), text
    assert held_by_text({}) == 'none' and held_by({}) == set()
