"""``contrastive-vla params [NODE]``: the parameters of the graph's nodes, with defaults, allowed
values and descriptions (``--markdown`` prints the README tables, ``--yaml`` config/nodes.yaml)."""

from contrastive_vla.ros.node_parameters import NODES
from contrastive_vla.ros.params import markdown_table, params_file_text


def add_arguments(parser):
    parser.add_argument('node', nargs='?', choices=sorted(NODES))
    output = parser.add_mutually_exclusive_group()
    output.add_argument('--markdown', action='store_true', help='the README tables')
    output.add_argument('--yaml', action='store_true',
                        help='a ROS 2 parameters file of the defaults (config/nodes.yaml)')


def run(args):
    nodes = {args.node: NODES[args.node]} if args.node else NODES
    if args.yaml:
        print(params_file_text(nodes), end='')
        return 0
    for node, table in nodes.items():
        if args.markdown:
            print(f'#### `{node}`\n\n{markdown_table(table)}\n')
            continue
        print(node)
        for p in table:
            allowed = f'  ({p.allowed})' if p.allowed else ''
            print(f'  {p.name} = {p.yaml_default}  [{p.type}]{allowed}\n      {p.description}')
    return 0
