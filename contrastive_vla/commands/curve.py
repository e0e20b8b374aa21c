"""``contrastive-vla curve``: a run's learning curve on fresh seeds, and the minutes to a target.

Evaluates every checkpoint ``train --keep-checks`` kept (``RUN_DIR/epoch_NNN``, and
``last/``) on the same episodes, and prints success against training minutes beside the
run's held-out accuracy and its own short check; writes a plot (``RUN_DIR/curve.png`` unless
``--plot`` says otherwise) and, with ``--json``, every figure.

Examples::

    contrastive-vla train --recipe fast --data data/fast --out runs/fast --keep-checks
    contrastive-vla curve runs/fast --episodes 50 --seed 10000 --workers 2
    contrastive-vla curve runs/fast --epochs 8,10,12   # only these kept checkpoints
    contrastive-vla curve runs/fast --instructions templates \
        --instructions config/instructions_unseen.yaml --json curve.json
"""

import argparse
import json
from pathlib import Path

from contrastive_vla.commands.common import check_episodes_and_seed, instruction_wordings
from contrastive_vla.control.loops import LOOP_MODES


def add_arguments(parser):
    parser.add_argument('run', help='training run directory (trained with --keep-checks)')
    parser.add_argument('--tasks', default='all', help='"all" or comma-separated task ids')
    parser.add_argument('--episodes', type=int, default=50,
                        help='episodes per task and checkpoint (default: %(default)s)')
    parser.add_argument('--seed', type=int, default=10000,
                        help='first episode seed (episode i of a task uses seed + i): pick '
                             "seeds outside the collect --seed range of the run's data; "
                             "train's own check uses 900000+ (default: %(default)s)")
    parser.add_argument('--instructions', action='append', default=None,
                        help='"templates" (the default) or a YAML task id -> instruction '
                             'templates; repeat it for one curve per wording')
    parser.add_argument('--epochs', type=_epoch_list, default=None,
                        help='comma-separated epochs of the kept checkpoints to evaluate, '
                             'e.g. "8,10,12" (default: every kept checkpoint)')
    parser.add_argument('--target', type=float, default=0.9,
                        help='success to report the training minutes to (default: '
                             '%(default)s)')
    parser.add_argument('--plot', default=None, help='PNG to write (default: RUN/curve.png)')
    parser.add_argument('--json', dest='json_out', default=None, help='write the curve here')
    parser.add_argument('--workers', type=int, default=1, help='worker processes')
    parser.add_argument('--loops', choices=LOOP_MODES, default='on',
                        help="the VLA node's loop breaker, as eval-sim --loops (default: "
                             '%(default)s)')
    parser.add_argument('--no-progress', action='store_true')


def _epoch_list(text):
    try:
        epochs = sorted({int(part) for part in text.split(',') if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'--epochs takes comma-separated epoch numbers, e.g. "8,10,12", got {text!r}'
        ) from None
    if not epochs or epochs[0] < 1:
        raise argparse.ArgumentTypeError(f'--epochs takes epochs from 1, got {text!r}')
    return epochs


def run(args):
    check_episodes_and_seed(args.episodes, args.seed, '--episodes')
    if not 0 < args.target <= 1:
        raise ValueError(f'--target is a success rate in (0, 1], got {args.target}')
    # deferred: a command imports its rooms when it runs, so --help stays fast
    from contrastive_vla.sim.tasks import load_tasks, resolve_task_ids
    from contrastive_vla.training.curve import (
        format_curve,
        kept_checkpoints,
        learning_curve,
        plot_curve,
    )

    tasks = load_tasks()
    task_ids = resolve_task_ids(args.tasks, tasks)
    wordings = [(column, overrides) for _, column, overrides
                in instruction_wordings(args.instructions, tasks)]
    checkpoints = kept_checkpoints(args.run, args.epochs)  # fails before any episode runs
    print(f'{args.run}: {len(checkpoints)} checkpoints (epochs '
          f'{", ".join(str(e) for e, _ in checkpoints)}), {args.episodes} episodes per task '
          f'from seed {args.seed}')

    def report(point):
        shown = ', '.join(f'{n} {100 * s:.1f}%' for n, s in point['success'].items())
        minutes = point['train_minutes']
        print(f'epoch {point["epoch"]} ({"?" if minutes is None else f"{minutes:.1f}"} '
              f'training minutes): {shown}', flush=True)

    curve = learning_curve(args.run, task_ids, args.episodes, args.seed, wordings,
                           workers=args.workers, progress=not args.no_progress,
                           target=args.target, on_point=report, loops=args.loops,
                           checkpoints=checkpoints)
    print(format_curve(curve))
    plot = Path(args.plot) if args.plot else Path(args.run) / 'curve.png'
    plot_curve(curve, plot)
    print(f'wrote {plot}')
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(curve, indent=2))
        print(f'wrote {args.json_out}')
    return 0
