"""``contrastive-vla launch PROFILE [name:=value ...]``: start the node graph without ros2 launch.

The same graph as ``ros2 launch contrastive_vla PROFILE.launch.py`` (both come from
``contrastive_vla.ros.graph``), one process per node. Ctrl-C stops every node cleanly; if a node
dies the others are stopped and the exit code is 1.

Examples::

    contrastive-vla launch sim
    contrastive-vla launch sim model:=runs/default/best real_time_factor:=2.0
    contrastive-vla launch robot camera_source:=/dev/video2 enable_actuation:=false
    contrastive-vla launch robot --show-args
"""

from contrastive_vla.ros import graph


def add_arguments(parser):
    parser.add_argument('profile', choices=sorted(graph.PROFILES))
    parser.add_argument('arguments', nargs='*', metavar='name:=value',
                        help='launch arguments (see --show-args)')
    parser.add_argument('--show-args', action='store_true',
                        help='list the launch arguments of the profile and exit')
    parser.add_argument('--print-commands', action='store_true',
                        help='print the command of every node and exit')


def parse_overrides(items):
    overrides = {}
    for item in items:
        name, sep, value = item.partition(':=')
        if not sep or not name:
            raise ValueError(f'launch arguments are written name:=value, got {item!r}')
        overrides[name] = value
    return overrides


def run(args):
    prof = graph.profile(args.profile)
    if args.show_args:
        print(f'{args.profile}: {prof.description}')
        for a in prof.arguments:
            default = a.default or "''"
            print(f'  {a.name}:={default}\n      {a.description}')
        print('nodes: ' + ', '.join(spec.name for spec in prof.nodes))
        print('precedence: config/nodes.yaml < these defaults < params_file < the arguments '
              'you give')
        return 0
    overrides = parse_overrides(args.arguments)
    graph.resolve_arguments(args.profile, overrides)  # unknown names -> clear error
    if args.print_commands:
        # deferred: a command imports its rooms when it runs, so --help stays fast
        from contrastive_vla.ros.launcher import GraphProcesses

        for name, cmd in GraphProcesses(args.profile, overrides).commands().items():
            print(f'{name}: {" ".join(cmd)}')
        return 0
    # deferred: a command imports its rooms when it runs, so --help stays fast
    from contrastive_vla.ros.launcher import run as run_graph

    return run_graph(args.profile, overrides)
