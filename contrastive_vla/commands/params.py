"""``contrastive-vla params [NODE]``: the parameters of the graph's nodes, with defaults and
descriptions (``--markdown`` prints the README tables)."""

import importlib

from contrastive_vla.ros.params import markdown_table, node_defaults

# node name -> module of its PARAMETERS table
NODE_MODULES = {
    'camera': 'contrastive_vla.ros.nodes.camera',
    'instruction_listener': 'contrastive_vla.ros.nodes.instruction',
    'vla': 'contrastive_vla.ros.nodes.vla',
    'arm_bridge': 'contrastive_vla.ros.nodes.arm_bridge',
    'simulator': 'contrastive_vla.ros.nodes.simulator',
    'player': 'contrastive_vla.ros.nodes.player',
}


def descriptions(node):
    return importlib.import_module(NODE_MODULES[node]).PARAMETERS


def add_arguments(parser):
    parser.add_argument('node', nargs='?', choices=sorted(NODE_MODULES))
    parser.add_argument('--markdown', action='store_true')


def run(args):
    for node in [args.node] if args.node else NODE_MODULES:
        if args.markdown:
            print(f'#### `{node}`\n\n{markdown_table(node, descriptions(node))}\n')
            continue
        print(node)
        defaults = node_defaults(node)
        for name, text in descriptions(node).items():
            print(f'  {name} = {defaults[name]!r}\n      {text}')
    return 0
