"""Node parameters: defaults from config/nodes.yaml, descriptions next to the node code.

One source per fact: the default of every parameter lives only in the packaged
``config/nodes.yaml`` (a standard ROS 2 parameters file), its description only in the node's
``PARAMETERS`` table. ``declare(node, PARAMETERS)`` declares each with both, so
``ros2 param describe`` shows the description and a user's ``params_file`` overrides the default.
"""

import functools

import yaml

from contrastive_vla.core.resources import config_path


@functools.lru_cache(maxsize=None)
def node_defaults(node_name, path=None):
    """{parameter: default} of ``node_name`` in the parameters file."""
    path = path or config_path('nodes.yaml')
    with open(path, encoding='utf-8') as f:
        data = yaml.safe_load(f) or {}
    for key in (f'/**/{node_name}', node_name, f'/{node_name}'):
        if key in data:
            return dict(data[key].get('ros__parameters') or {})
    raise KeyError(f'{path} has no parameters for node {node_name!r}')


def declare(node, descriptions, defaults_of=None):
    """Declare every parameter of ``descriptions`` on an rclpy node; returns {name: value}."""
    from rcl_interfaces.msg import ParameterDescriptor

    defaults = node_defaults(defaults_of or node.get_name())
    missing = sorted(set(descriptions) - set(defaults))
    if missing:
        raise KeyError(f'config/nodes.yaml lacks defaults for {node.get_name()}: {missing}')
    values = {}
    for name, description in descriptions.items():
        default = defaults[name]
        param = node.declare_parameter(name, default, ParameterDescriptor(
            description=description))
        values[name] = param.value
    return values


def markdown_table(node_name, descriptions):
    """README table: parameter | default | description."""
    defaults = node_defaults(node_name)
    rows = ['| parameter | default | description |', '|---|---|---|']
    for name, description in descriptions.items():
        rows.append(f'| `{name}` | `{defaults[name]!r}` | {description} |')
    return '\n'.join(rows)
