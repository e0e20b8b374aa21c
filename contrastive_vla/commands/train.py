"""``contrastive-vla train``: contrastive imitation learning from demonstration bags.

Examples::

    contrastive-vla collect --tasks all --episodes-per-task 150 --out data/demos --seed 100000
    contrastive-vla train --data data/demos --config clip_rt_small --out runs/default
    contrastive-vla train --data data/demos --config clip_rt_small_additive --out runs/additive
    contrastive-vla train --data data/teleop --init models/clip_rt_default --out runs/ft \\
        --epochs 10 --lr 3e-4                                  # fine-tune on your own bags
    torchrun --nproc_per_node 4 -m contrastive_vla.cli train --data ... --out ...   # DDP
"""

import json
import os

from contrastive_vla.sim.tasks import load_tasks, resolve_task_ids
from contrastive_vla.training.train import LOSSES, train


def add_arguments(parser):
    parser.add_argument('--data', nargs='+', required=True,
                        help='bag directories, or directories holding bags')
    parser.add_argument('--config', default=None,
                        help='model config name in models/ or a JSON path (default '
                             "clip_rt_small; with --init: the checkpoint's own, or a config "
                             'that adds modules to it, e.g. the robot state)')
    parser.add_argument('--init', default=None,
                        help='start from this checkpoint (fine-tuning or warm start)')
    parser.add_argument('--new-lr-scale', type=float, default=1.0,
                        help='with --init into a config that adds modules: their learning '
                             'rate is --lr times this (they start at zero beside trained '
                             'weights; e.g. 10 for token_attention)')
    parser.add_argument('--out', required=True, help='run directory (checkpoints, metrics)')
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--weight-decay', type=float, default=0.01)
    parser.add_argument('--loss', choices=LOSSES, default='ce',
                        help='ce: softmax over the vocabulary (default, learns faster); '
                             'bce: CLIP-RT multi-label in-batch')
    parser.add_argument('--val-fraction', type=float, default=0.1,
                        help='fraction of episodes held out for validation')
    parser.add_argument('--val-episodes', default=None, metavar='FILE',
                        help='hold out exactly the bags named in FILE (one per line), e.g. '
                             'the val_episodes.txt of the run --init comes from, so a '
                             'fine-tune is validated on episodes it never saw (overrides '
                             '--val-fraction)')
    parser.add_argument('--eval-every', type=int, default=5,
                        help='closed-loop check in the simulator every N epochs')
    parser.add_argument('--eval-tasks', default='all',
                        help='tasks of the closed-loop check ("none" to skip it)')
    parser.add_argument('--eval-episodes', type=int, default=3, help='per task')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--resume', action='store_true', help='continue RUN_DIR/last')
    parser.add_argument('--no-image-augmentation', action='store_true')
    parser.add_argument('--instruction-noise', type=float, default=0.0, metavar='P',
                        help='reword this fraction of training instructions: insert 1-2 words '
                             'no task uses and drop some articles, so a text tower trained '
                             'from scratch learns to read the words that matter rather than '
                             'the templates (0 = off)')
    parser.add_argument('--include-failed', action='store_true',
                        help='also learn from episodes marked as failed')
    parser.add_argument('--no-progress', action='store_true')


def run(args):
    if args.epochs <= 0 or args.batch_size < 2:
        raise ValueError('--epochs must be positive and --batch-size at least 2')
    if args.new_lr_scale <= 0:
        raise ValueError('--new-lr-scale must be positive')
    if not 0 <= args.instruction_noise <= 1:
        raise ValueError('--instruction-noise must be in [0, 1]')
    if not 0 <= args.val_fraction < 1:
        raise ValueError('--val-fraction must be in [0, 1)')
    if args.val_episodes and not os.path.isfile(args.val_episodes):
        raise ValueError(f'--val-episodes: no file {args.val_episodes!r}')
    eval_tasks = None
    if args.eval_tasks != 'none':
        eval_tasks = resolve_task_ids(args.eval_tasks, load_tasks())
    best = train(args.data, config=args.config, out_dir=args.out, epochs=args.epochs,
                 batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                 loss=args.loss, val_fraction=args.val_fraction, seed=args.seed,
                 eval_every=args.eval_every, eval_tasks=eval_tasks,
                 eval_episodes=args.eval_episodes, init=args.init, threads=args.threads,
                 progress=not args.no_progress, resume=args.resume,
                 augment_images=not args.no_image_augmentation,
                 include_failed=args.include_failed, new_lr_scale=args.new_lr_scale,
                 instruction_noise=args.instruction_noise,
                 val_episodes=args.val_episodes)
    print(f'best checkpoint: {best}')
    summary = best.parent / 'summary.json'
    if summary.exists():
        print(json.dumps(json.loads(summary.read_text()), indent=2))
    return 0
