"""``contrastive-vla teleop``: teach a task by talking the simulated arm through it.

Each line you type is one step ("move left a bit", "go down five centimeters", "close the
gripper", "undo"); "done" or "failed" ends the episode and saves it as a demonstration bag
(train on the directory with ``contrastive-vla train --data``). The current camera view is
written to ``<out>/view.png`` after every step; open it in an image viewer that reloads.

Examples::

    contrastive-vla teleop --task stack_blocks --episodes 10 --out data/teleop_stack
    contrastive-vla teleop --task reach_block --script my_session.txt --out data/t
    contrastive-vla teleop --task lift_block --operator scripted --episodes 10 --out data/t
"""

import sys

from contrastive_vla.sim.tasks import load_tasks


def add_arguments(parser):
    parser.add_argument('--task', required=True, help='simulated task id')
    parser.add_argument('--instruction', default=None,
                        help='say the task this way (default: a template of the task)')
    parser.add_argument('--episodes', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0, help='scene seed of the first episode')
    parser.add_argument('--out', required=True, help='directory for the episode bags')
    parser.add_argument('--script', default=None,
                        help='read the sentences from this file instead of the keyboard')
    parser.add_argument('--operator', choices=('person', 'scripted'), default='person',
                        help='scripted: a stand-in for the person that watches the scene and '
                             'says the next step in casual words (for demos and benchmarks; '
                             'the sentences go through the same language mapping)')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')


def run(args):
    from contrastive_vla.data.teleop import TeleopSession
    from contrastive_vla.sim.env import TabletopEnv

    tasks = load_tasks()
    if args.task not in tasks:
        raise ValueError(f'unknown task {args.task!r}; tasks: {", ".join(tasks)} (add your own '
                         'with CONTRASTIVE_VLA_TASKS=your_tasks.yaml)')
    if args.operator == 'scripted':
        if args.script:
            raise ValueError('--script and --operator scripted do not go together')
        return _scripted(args)
    source = open(args.script, encoding='utf-8') if args.script else sys.stdin
    interactive = args.script is None and sys.stdin.isatty()
    saved = []
    with TabletopEnv() as env:
        session = TeleopSession(env, args.out, storage=args.storage,
                                view_path=f'{args.out}/view.png')
        try:
            for episode in range(args.episodes):
                print(session.start(args.task, args.seed + episode, args.instruction).text,
                      flush=True)
                while True:
                    if interactive:
                        print('> ', end='', flush=True)
                    line = source.readline()
                    if not line:
                        print('end of input: the unfinished episode is not saved')
                        return _report(saved)
                    if line.strip().lower() in ('quit', 'exit'):
                        return _report(saved)
                    if not line.strip():
                        continue
                    if not interactive:
                        print(f'> {line.strip()}')
                    reply = session.say(line)
                    print(reply.text, flush=True)
                    if reply.episode_over:
                        saved.append(reply.bag)
                        break
        finally:
            if args.script:
                source.close()
    return _report(saved)


def _scripted(args):
    from contrastive_vla.data.teleop import ScriptedOperator, TeleopSession
    from contrastive_vla.sim.env import TabletopEnv

    saved = []
    with TabletopEnv() as env:
        session = TeleopSession(env, args.out, storage=args.storage)
        operator = ScriptedOperator(session, seed=args.seed)
        for episode in range(args.episodes):
            reply = operator.run_episode(args.task, args.seed + episode, args.instruction,
                                         echo=lambda line: print(line, flush=True))
            saved.append(reply.bag)
    print(f'the operator said {operator.said} sentence(s); {operator.misheard} were taken as '
          'another step than meant')
    return _report(saved)


def _report(saved):
    print(f'{len(saved)} episode(s) saved')
    return 0
