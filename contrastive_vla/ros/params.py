"""Node parameters: each declared once, as a :class:`Param` in ``ros/node_parameters.py``.

A ``Param`` carries the name, default (whose Python type is the ROS parameter type),
description, allowed range or choices and whether the node honours changes while it runs.
Everything else is derived from it: :func:`declare` (rclpy ``ParameterDescriptor``, the
start-up check and the check of every later ``ros2 param set``), the packaged
``config/nodes.yaml`` (:func:`params_file_text`), the README tables (:func:`markdown_table`),
``contrastive-vla params`` and the launch argument defaults.
"""

from dataclasses import dataclass
import textwrap

import yaml

from contrastive_vla.ros.runtime import NodeStartupError

_INT64 = (-2 ** 63, 2 ** 63 - 1)
# default's Python type -> ROS parameter type name (rcl_interfaces/msg/ParameterType)
_SCALAR_TYPES = {bool: 'bool', int: 'integer', float: 'double', str: 'string'}


@dataclass(frozen=True)
class Param:
    name: str
    default: object        # bool, int, float, str or a non-empty list of one of them
    description: str
    range: tuple = None    # (low, high) inclusive; None on a side: unbounded (numbers only)
    choices: tuple = None  # the allowed values (strings only)
    open_low: bool = False  # the low end of ``range`` itself is refused (a rate must be > 0)
    min_items: int = None  # lists only: at least this many non-blank items (stop_words)
    # False: read once at start-up, so the descriptor is read_only and `ros2 param set` is
    # refused instead of silently doing nothing. True only where a set really changes what the
    # node does (it reads the value at use time, or its hook rebuilds what depends on it)
    dynamic: bool = False

    def __post_init__(self):
        kind = self.type  # refuses a default of no ROS parameter type
        if self.range is not None and kind not in ('integer', 'double'):
            raise TypeError(f'{self.name}: a range needs a numeric default')
        if self.choices is not None and kind != 'string':
            raise TypeError(f'{self.name}: choices need a string default')
        if self.min_items is not None and not kind.endswith('_array'):
            raise TypeError(f'{self.name}: min_items needs a list default')
        problem = self.check(self.default)
        if problem:
            raise ValueError(f'default of {self.name}: {problem}')

    @property
    def type(self):
        """The ROS parameter type: bool, integer, double, string or <one of them>_array."""
        value = self.default
        if isinstance(value, (list, tuple)):
            kinds = {type(v) for v in value}
            if len(kinds) != 1 or kinds.pop() not in _SCALAR_TYPES:
                raise TypeError(f'{self.name}: a list default needs items of one type')
            return _SCALAR_TYPES[type(value[0])] + '_array'
        if type(value) not in _SCALAR_TYPES:
            raise TypeError(f'{self.name}: no ROS parameter type for {value!r}')
        return _SCALAR_TYPES[type(value)]

    @property
    def allowed(self):
        """The constraint in words ('' = any value of the type)."""
        if self.choices is not None:
            return 'one of ' + ', '.join(self.choices)
        if self.min_items is not None:
            return f'at least {self.min_items} item{"s" if self.min_items != 1 else ""}'
        if self.range is None:
            return ''
        low, high = self.range
        if high is None:
            return f'{">" if self.open_low else ">="} {low}'
        if low is None:
            return f'<= {high}'
        return f'{low} .. {high}' if not self.open_low else f'> {low}, <= {high}'

    def check(self, value):
        """Why ``value`` is not allowed, or None."""
        if self.choices is not None and value not in self.choices:
            return f'must be one of {", ".join(self.choices)}; got {value!r}'
        if self.min_items is not None and len([  # an empty list may come back as None
                v for v in value or () if not (isinstance(v, str) and not v.strip())
        ]) < self.min_items:
            return f'must have {self.allowed} (not blank); got {value!r}'
        if self.range is not None:
            low, high = self.range
            too_low = low is not None and (value <= low if self.open_low else value < low)
            if too_low or (high is not None and value > high):
                return f'must be {self.allowed}; got {value!r}'
        return None

    @property
    def yaml_default(self):
        """The default spelt as in a parameters file (and on the command line)."""
        text = yaml.safe_dump(self.default, default_flow_style=True, width=1000).strip()
        return text[:-len('...')].strip() if text.endswith('...') else text

    @property
    def launch_default(self):
        """The default as a launch argument value ('' stays empty for launch)."""
        return '' if self.default == '' else self.yaml_default

    def descriptor(self):
        # deferred: launch files import this module; rclpy loads when a node runs
        from rcl_interfaces.msg import (
            FloatingPointRange,
            IntegerRange,
            ParameterDescriptor,
            ParameterType,
        )

        desc = ParameterDescriptor(
            name=self.name, type=getattr(ParameterType, f'PARAMETER_{self.type.upper()}'),
            description=self.description, additional_constraints=self.allowed,
            read_only=not self.dynamic)
        if self.range is not None:
            low, high = self.range
            if self.type == 'integer':
                desc.integer_range = [IntegerRange(
                    from_value=_INT64[0] if low is None else int(low),
                    to_value=_INT64[1] if high is None else int(high), step=0)]
            else:
                desc.floating_point_range = [FloatingPointRange(
                    from_value=float('-inf') if low is None else float(low),
                    to_value=float('inf') if high is None else float(high), step=0.0)]
        return desc


def defaults(table):
    """{parameter: default} of a node's table."""
    return {p.name: p.default for p in table}


def declare(node, table, on_change=None):
    """Declare every parameter of ``table`` on an rclpy node; returns {name: value}.

    A start-up value (a parameters file, ``-p name:=value``) of the wrong type or outside the
    range or choices raises NodeStartupError naming the node, the parameter and what is allowed.
    Later sets (``ros2 param set``) go through :func:`watch`: the returned dict follows them,
    and ``on_change(values, changed)`` rebuilds what the node derived from the values.
    """
    # deferred: launch files import this module; rclpy loads when a node runs
    from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException

    values = {}
    for p in table:
        try:
            value = node.declare_parameter(p.name, p.default, p.descriptor()).value
        except InvalidParameterTypeException as exc:
            raise NodeStartupError(f'{node.get_name()}: parameter {p.name} must be a {p.type} '
                                   f'like its default {p.yaml_default} ({exc})') from None
        except InvalidParameterValueException as exc:
            # rclpy refuses a wrong type or an out-of-range number while declaring
            raise NodeStartupError(f'{node.get_name()}: parameter {p.name}: {exc}'
                                   + (f' (allowed: {p.allowed})' if p.allowed else '')) from None
        problem = p.check(value)
        if problem:
            raise NodeStartupError(f'{node.get_name()}: parameter {p.name} {problem}')
        values[p.name] = value
    # after declaring: rclpy runs the on-set callbacks for declarations too
    watch(node, table, values, on_change)
    return values


def watch(node, table, values, on_change=None):
    """Check every later set of a parameter of ``table`` (``ros2 param set``) and apply it.

    rclpy itself refuses a read-only parameter, a wrong type and a number outside the
    descriptor's range; this refuses what the declaration refuses beyond that (an open low end:
    a timeout of 0 would disable the watchdog; choices). The node's hook
    ``on_change(new_values, changed_names)`` then rebuilds its derived objects (safety limits,
    watchdog, decision gate, timers) from the new values; a ValueError from it refuses the set.
    Only then is ``values`` (the node's dict) updated. Refusals come back as
    ``SetParametersResult(successful=False, reason=...)``, which ``ros2 param set`` prints.
    """
    # deferred: launch files import this module; rclpy loads when a node runs
    from rcl_interfaces.msg import SetParametersResult

    by_name = {p.name: p for p in table}

    def refuse(reason):
        node.get_logger().warning(f'parameter change refused: {reason}')
        return SetParametersResult(successful=False, reason=reason)

    def on_set(parameters):
        new, changed = dict(values), []
        for param in parameters:
            p = by_name.get(param.name)
            if p is None:
                continue  # use_sim_time and the like: rclpy's own parameters
            if not p.dynamic:
                return refuse(f'{p.name} is read once at start-up (read-only); restart the node '
                              'with the new value')
            value = list(param.value) if p.type.endswith('_array') else param.value
            problem = p.check(value)
            if problem:
                return refuse(f'{p.name} {problem}')
            new[p.name] = value
            changed.append(p.name)
        if changed and on_change is not None:
            try:
                on_change(new, tuple(changed))
            except ValueError as exc:
                return refuse(f'{", ".join(changed)}: {exc}')
        values.update(new)
        if changed:
            node.get_logger().info('parameter set: ' + ', '.join(
                f'{name}={new[name]!r}' for name in changed))
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)


def markdown_table(table):
    """README table: parameter | default | allowed | set while running | description."""
    rows = ['| parameter | default | allowed | set while running | description |',
            '|---|---|---|---|---|']
    for p in table:
        rows.append(f'| `{p.name}` | `{p.yaml_default}` | {p.allowed} | '
                    f'{"yes" if p.dynamic else "no"} | {p.description} |')
    return '\n'.join(rows)


PARAMS_FILE_HEADER = """\
# Defaults of every node parameter: a standard ROS 2 parameters file. Copy it, change what you
# need and pass it with params_file:=... (launch) or --ros-args --params-file ...
# Generated from contrastive_vla/ros/node_parameters.py by
#   contrastive-vla params --yaml > config/nodes.yaml
# (a test fails when the two differ): change a default or description there, not here.
"""


def params_file_text(nodes):
    """config/nodes.yaml for ``nodes`` ({node name: table}): each description as a comment."""
    lines = [PARAMS_FILE_HEADER.rstrip('\n')]
    for node, table in nodes.items():
        lines += [f'/**/{node}:', '  ros__parameters:']
        for p in table:
            notes = ([f'allowed: {p.allowed}'] if p.allowed else []) + \
                (['settable while running'] if p.dynamic else [])
            # no-break spaces keep '(allowed: > 0.0; ...)' on one line
            allowed = f' ({"; ".join(notes)})'.replace(' ', '\xa0') if notes else ''
            lines += [line.replace('\xa0', ' ') for line in textwrap.wrap(
                p.description + allowed, 99, initial_indent='    # ', subsequent_indent='    # ',
                break_on_hyphens=False)]
            lines.append(f'    {p.name}: {p.yaml_default}')
    return '\n'.join(lines) + '\n'


def read_params_file(path):
    """{node name: {parameter: value}} of a ROS 2 parameters file."""
    with open(path, encoding='utf-8') as f:
        data = yaml.safe_load(f) or {}
    return {key.rsplit('/', 1)[-1]: dict((entry or {}).get('ros__parameters') or {})
            for key, entry in data.items()}
