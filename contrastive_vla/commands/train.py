"""``contrastive-vla train``: contrastive imitation learning from demonstration bags.

Examples::

    contrastive-vla collect --tasks all --episodes-per-task 150 --out data/demos --seed 100000
    contrastive-vla train --data data/demos --config clip_rt_small --out runs/default
    contrastive-vla train --data data/demos --config clip_rt_small_additive --out runs/additive
    contrastive-vla train --data data/teleop --init models/clip_rt_default --out runs/ft \\
        --epochs 10 --lr 3e-4                                  # fine-tune on your own bags
    contrastive-vla train --recipe fast --data data/fast --out runs/fast    # the shipped model's
    contrastive-vla train --recipe large --data data/large --out runs/large
    torchrun --standalone --nproc_per_node 4 -m contrastive_vla.cli train --data ... --out ...
"""

import json

from contrastive_vla.training.config import TrainingConfig
from contrastive_vla.training.train import train


def add_arguments(parser):
    # every option is a TrainingConfig field: its flag, default, bounds and help live there
    TrainingConfig.add_arguments(parser)


def run(args):
    best = train(TrainingConfig.from_args(args))
    print(f'best checkpoint: {best}')
    summary = best.parent / 'summary.json'
    if summary.exists():
        print(json.dumps(json.loads(summary.read_text()), indent=2))
    return 0
