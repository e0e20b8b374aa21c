"""The ``contrastive-vla`` command: one entry point, one sub-command per job.

Sub-commands are registered by module path and imported only when run, so ``--help`` stays
fast and a machine without torch can still use the light ones.
"""

import argparse
import importlib
import logging
import sys

# name -> (module with add_arguments(parser) and run(args) -> int, one-line help)
COMMANDS = {
    'vocab': ('contrastive_vla.commands.vocab', 'inspect, check and query a primitive vocabulary'),
    'doctor': ('contrastive_vla.commands.doctor',
               'check that the installation can import, render and find its data'),
    'collect': ('contrastive_vla.commands.collect',
                'record expert demonstrations in the simulator as rosbag2 bags'),
    'train': ('contrastive_vla.commands.train',
              'train a CLIP-RT policy on demonstration bags'),
    'bench': ('contrastive_vla.commands.bench',
              'speed figures (JSON): policy latency cached/uncached, simulator costs'),
    'eval-sim': ('contrastive_vla.commands.eval_sim',
                 'closed-loop success of a policy (expert, random or a model) in the simulator'),
    'curve': ('contrastive_vla.commands.curve',
              "a run's learning curve on fresh seeds: success vs training minutes"),
    'eval-bag': ('contrastive_vla.commands.eval_bag',
                 'score a model on recorded bags: accuracy, top-3, direction, latency, report'),
    'teleop': ('contrastive_vla.commands.teleop',
               'teach a task by talking the simulated arm through it (records bags)'),
    'record': ('contrastive_vla.commands.record',
               'record topics of a running graph into a rosbag2 bag (raw CDR)'),
    'launch': ('contrastive_vla.commands.launch',
               'start the ROS 2 node graph (sim | robot) without ros2 launch'),
    'demo': ('contrastive_vla.commands.demo',
             'the ROS 2 graph on the simulator doing the tasks from spoken instructions'),
    'arm': ('contrastive_vla.commands.arm',
            'check an arm from its URDF: plan every primitive, count reached / refused / limit '
            'violations'),
    'params': ('contrastive_vla.commands.params',
               'parameters of every node: defaults and descriptions'),
}


class UsageError(Exception):
    """An error caused by the user's input; printed without a traceback."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog='contrastive-vla',
        description='CLIP-RT language-conditioned robot control on ROS 2.',
        epilog='Run "contrastive-vla COMMAND --help" for the options of one command.')
    parser.add_argument('--debug', action='store_true',
                        help='show full tracebacks and debug logging')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text, add_help=False)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format='%(levelname)s %(name)s: %(message)s')
    if args.command is None:
        parser.print_help()
        return 0 if not rest else 2
    module_name, help_text = COMMANDS[args.command]
    # MuJoCo picks its OpenGL backend when first imported: choose a headless one before any
    # command imports it (no import of mujoco here)
    from contrastive_vla.sim.rendering import configure_gl

    configure_gl()
    module = importlib.import_module(module_name)
    command_parser = argparse.ArgumentParser(prog=f'contrastive-vla {args.command}',
                                             description=help_text)
    module.add_arguments(command_parser)
    command_args = command_parser.parse_args(rest)
    try:
        return int(module.run(command_args) or 0)
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except Exception as exc:  # noqa: BLE001 - the top level turns errors into a clear message
        if args.debug or not _is_user_error(exc):
            raise
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f'contrastive-vla {args.command}: error: {message}', file=sys.stderr)
        return 2


def _is_user_error(exc):
    # deferred: a command imports its rooms when it runs, so --help stays fast
    from contrastive_vla.core.vocabulary import VocabularyError

    return getattr(exc, 'user_facing', False) or isinstance(
        exc, (UsageError, VocabularyError, FileNotFoundError, ValueError, KeyError))


if __name__ == '__main__':
    sys.exit(main())
