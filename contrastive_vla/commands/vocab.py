"""``contrastive-vla vocab``: look at, validate and query a motion-primitive vocabulary.

Examples::

    contrastive-vla vocab list
    contrastive-vla vocab check my_arm_primitives.yaml
    contrastive-vla vocab lookup "move left a bit"
    contrastive-vla vocab discretize 0.0 0.06 0.0 0 0 0 0
    contrastive-vla vocab compose left_5cm left_5cm down_10cm close_gripper
"""

import math

from contrastive_vla.core.vocabulary import PrimitiveVocabulary


def add_arguments(parser):
    parser.add_argument('--vocabulary', default=None,
                        help="vocabulary YAML (default: the package's config/primitives.yaml)")
    sub = parser.add_subparsers(dest='verb', required=True)
    sub.add_parser('list', help='print every primitive with its delta')
    check = sub.add_parser('check', help='validate a vocabulary file')
    check.add_argument('file')
    lookup = sub.add_parser('lookup', help='find the primitive of a phrase or paraphrase')
    lookup.add_argument('text')
    disc = sub.add_parser('discretize', help='nearest primitive of a continuous action')
    disc.add_argument('action', nargs='+', type=float,
                      help='dx dy dz roll pitch yaw wrist_rotate [gripper_change]')
    comp = sub.add_parser('compose', help='net displacement of a sequence of primitives')
    comp.add_argument('primitives', nargs='+', help='names or phrases')


def run(args):
    if args.verb == 'check':
        vocab = PrimitiveVocabulary.load(args.file)
        print(f'{args.file}: OK, {len(vocab)} primitives, '
              f'{sum(len(p.paraphrases) for p in vocab)} paraphrases')
        return 0
    vocab = PrimitiveVocabulary.load(args.vocabulary)
    if args.verb == 'list':
        print(f'{"#":>3}  {"name":<20} {"axis":<13} {"value":>9}  phrase')
        for p in vocab:
            value = f'{p.value:+.3f}' if p.axis in ('x', 'y', 'z', 'gripper') else \
                f'{math.degrees(p.value):+.0f}deg'
            print(f'{p.index:>3}  {p.name:<20} {p.axis:<13} {value:>9}  {p.phrase}')
        return 0
    if args.verb == 'lookup':
        p = vocab.from_phrase(args.text)
        print(f'{p.name}: {p.phrase}  delta={list(p.delta)}')
        return 0
    if args.verb == 'discretize':
        p = vocab.discretize(args.action)
        print('no primitive (motion below the smallest step)' if p is None
              else f'{p.name}: {p.phrase}')
        return 0
    net = vocab.compose(args.primitives)
    roll, pitch, yaw = (math.degrees(v) for v in net.rpy)
    print(f'translation (m): {[round(float(v), 4) for v in net.translation]}')
    print(f'rotation (deg, roll/pitch/yaw): {[round(v, 2) + 0.0 for v in (roll, pitch, yaw)]}')
    print(f'wrist rotation (deg): {math.degrees(net.wrist_rotate):.1f}; gripper: {net.gripper}')
    return 0
