"""``contrastive-vla teleop``: teach a task by talking the arm through it.

Each line you type is one step ("move left a bit", "go down five centimeters", "close the
gripper", "undo"); "done" or "failed" ends the episode and saves it as a demonstration bag
(train on the directory with ``contrastive-vla train --data``). The current camera view is
written to ``<out>/view.png`` after every step; open it in an image viewer that reloads.

``--arm sim`` (default) runs the simulator in this process; ``--arm ros`` steers the arm of a
running graph through its arm bridge (a real arm, or the simulator node), started without the
VLA node: ``contrastive-vla launch robot vla:=false enable_actuation:=true autostart:=true``.

Examples::

    contrastive-vla teleop --task stack_blocks --episodes 10 --out data/teleop_stack
    contrastive-vla teleop --task reach_block --script my_session.txt --out data/t
    contrastive-vla teleop --task lift_block --operator scripted --episodes 10 --out data/t
    contrastive-vla teleop --arm ros --task cup_in_bowl --instruction "put the cup in the bowl"
        --episodes 5 --out data/cup
"""

import sys

from contrastive_vla.sim.tasks import load_tasks


def add_arguments(parser):
    parser.add_argument('--task', default=None,
                        help='simulated task id (--arm ros with a real arm: a name for the '
                             'task, default "teleop")')
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
    parser.add_argument('--arm', choices=('sim', 'ros'), default='sim',
                        help='sim: the simulator in this process; ros: the arm of a running '
                             'graph, through its arm bridge (a real arm or the simulator node)')
    parser.add_argument('--namespace', default='', help='--arm ros: namespace of the graph')
    parser.add_argument('--arm-config', default='',
                        help="--arm ros: the bridge's arm ('ur5e', 'fr3' or a YAML; default: "
                             "the simulator's UR5e): the joints the demonstrations record")
    parser.add_argument('--urdf', default=None,
                        help="--arm ros with a URDF arm: its URDF (the arm's joints, in "
                             'order; without it the joints the arm driver publishes)')
    parser.add_argument('--step-timeout', type=float, default=30.0,
                        help='--arm ros: seconds to wait for the bridge to finish a step')


def _check_task(task):
    tasks = load_tasks()
    if task is None:
        raise ValueError('--task is required: a simulated task id (one of '
                         f'{", ".join(tasks)})')
    if task not in tasks:
        raise ValueError(f'unknown task {task!r}; tasks: {", ".join(tasks)} (add your own '
                         'with CONTRASTIVE_VLA_TASKS=your_tasks.yaml)')


def _open_arm(args):
    """The arm to talk to (a context manager)."""
    if args.arm == 'sim':
        # deferred: a command imports its rooms when it runs, so --help stays fast
        from contrastive_vla.sim.env import TabletopEnv

        _check_task(args.task)
        return TabletopEnv()
    # deferred: a command imports its rooms when it runs, so --help stays fast
    from contrastive_vla.robot.arms import arm_state_names
    from contrastive_vla.ros.teleop_arm import RosArm

    names = arm_state_names(args.arm_config, args.urdf)
    arm = RosArm(namespace=args.namespace, step_timeout=args.step_timeout, state_names=names)
    try:
        arm.wait_ready()
        if arm.simulated:
            _check_task(args.task)
        else:
            args.task = args.task or 'teleop'
    except BaseException:
        arm.close()
        raise
    print(f'connected to the graph ({"simulator node" if arm.simulated else "real arm"})',
          flush=True)
    return arm


def run(args):
    # deferred: a command imports its rooms when it runs, so --help stays fast
    from contrastive_vla.teleop.session import TeleopSession

    if args.operator == 'scripted':
        if args.script:
            raise ValueError('--script and --operator scripted do not go together')
        if args.arm != 'sim':
            raise ValueError("the scripted operator looks at the simulator's scene state: it "
                             'needs --arm sim')
        return _scripted(args)
    source = open(args.script, encoding='utf-8') if args.script else sys.stdin
    interactive = args.script is None and sys.stdin.isatty()
    saved = []
    with _open_arm(args) as env:
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
    # deferred: a command imports its rooms when it runs, so --help stays fast
    from contrastive_vla.teleop.session import ScriptedOperator, TeleopSession

    saved = []
    with _open_arm(args) as env:
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
