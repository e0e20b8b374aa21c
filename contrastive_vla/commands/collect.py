"""``contrastive-vla collect``: expert demonstrations in the simulator, one rosbag2 per episode.

Examples::

    contrastive-vla collect --tasks all --episodes-per-task 50 --out data/demos --seed 0
    contrastive-vla collect --tasks lift_block,stack_blocks --episodes-per-task 5 --out d \\
        --storage sqlite3 --workers 1

Re-running the same command resumes: bags already complete in --out are skipped.
"""

import json

from contrastive_vla.commands.common import check_episodes_and_seed
from contrastive_vla.data.demos import collect
from contrastive_vla.sim.tasks import load_tasks, resolve_task_ids


def add_arguments(parser):
    parser.add_argument('--tasks', default='all', help='"all" or comma-separated task ids')
    parser.add_argument('--episodes-per-task', type=int, required=True)
    parser.add_argument('--out', required=True, help='output directory (one bag per episode)')
    parser.add_argument('--seed', type=int, default=0,
                        help='first episode seed (episode i of each task uses seed + i)')
    parser.add_argument('--workers', type=int, default=None,
                        help='worker processes (default: one per CPU core)')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    parser.add_argument('--image-size', type=int, default=None,
                        help='square camera resolution (default: config/sim.yaml, 224)')
    parser.add_argument('--augment', choices=('full', 'recovery', 'none'), default='full',
                        help='full: varied expert + recovery pairs (CLIP-RT); recovery: greedy '
                             'deterministic expert + recovery pairs; none: greedy expert only')
    parser.add_argument('--no-augment', action='store_true', help='same as --augment none')
    parser.add_argument('--misplace', type=float, default=0.0,
                        help='probability that a place/stack episode has one deliberate wrong '
                             'release (the other zone, another block or a random spot) that '
                             'the expert then corrects (default 0)')
    parser.add_argument('--miss-grasp', type=float, default=0.0,
                        help='probability that a lift/place/stack episode has one deliberate '
                             'missed grasp (the gripper closed 3.3-5 cm beside the block) that '
                             'the expert then corrects: open, align, grasp (default 0)')
    parser.add_argument('--off-centre', type=float, default=0.0,
                        help='probability that a stack episode has one deliberate release '
                             "1.5-3.5 cm off the base's centre (the block slides off or "
                             'tilts) that the expert then corrects: pick it up again, stack '
                             'it (default 0)')
    parser.add_argument('--misalign', type=float, default=0.0,
                        help='probability that a stack episode has one deliberate shift 1.3-2.5 '
                             "cm off the base's centre while the block is held over it (before "
                             'the descent or before the release) that the expert then '
                             'corrects: centre again, then let go (default 0)')
    parser.add_argument('--relabel', action='store_true',
                        help='for tasks that name a second object (place: the zone, stack: the '
                             'base block), also write a relabelled twin of each episode '
                             '(<bag>_relabel): the same images, the instruction naming another '
                             'zone or block of the scene, and the expert decisions for it (not '
                             'executed)')
    parser.add_argument('--no-progress', action='store_true')


def run(args):
    check_episodes_and_seed(args.episodes_per_task, args.seed, '--episodes-per-task')
    task_ids = resolve_task_ids(args.tasks, load_tasks())
    size = (args.image_size, args.image_size) if args.image_size else None
    summary = collect(task_ids, args.episodes_per_task, args.out, seed=args.seed,
                      workers=args.workers, storage=args.storage, image_size=size,
                      progress=not args.no_progress,
                      augment='none' if args.no_augment else args.augment,
                      relabel=args.relabel, misplace=args.misplace,
                      miss_grasp=args.miss_grasp, off_centre=args.off_centre,
                      misalign=args.misalign)
    print(json.dumps(summary, indent=2))
    if summary['episodes_written'] and summary['successes'] < summary['episodes_written']:
        print(f'note: {summary["episodes_written"] - summary["successes"]} episode(s) failed; '
              'their bags are kept and marked (the episode topic says success: false)')
    return 0
