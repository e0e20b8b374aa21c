"""``contrastive-vla arm``: check an arm from its URDF before powering it.

``arm check`` plans every primitive of the vocabulary from a set of start poses with the arm
bridge's own planner and prints, per primitive, how often it is reached, refused (and why) or
would violate a joint limit (must be 0), the share reached per primitive family and the arm's
reachable box (control/arm_check.py says how).

Examples::

    contrastive-vla arm check --urdf ur5e.urdf --arm-config ur5e
    contrastive-vla arm check --urdf fr3.urdf --arm-config fr3 --json fr3_check.json
    contrastive-vla arm check --urdf my_arm.urdf --base-frame base_link --tool-frame tool0 \\
        --joint-limits joint_limits.yaml
"""

import json
import sys


def add_arguments(parser):
    sub = parser.add_subparsers(dest='verb', required=True)
    check = sub.add_parser('check', help='plan every primitive from a set of start poses')
    check.add_argument('--urdf', default=None,
                       help="the arm's URDF file (without: the arm configuration's own "
                            'kinematics, e.g. the packaged simulator UR5e)')
    check.add_argument('--arm-config', default='',
                       help="packaged arm ('ur5e', 'fr3') or an arm configuration YAML "
                            "(frames, home, workspace box, rates); default: the simulator's "
                            'config/sim.yaml')
    check.add_argument('--base-frame', default='',
                       help="frame poses and the workspace box are in (default: the "
                            "configuration's)")
    check.add_argument('--tool-frame', default='',
                       help="frame the primitives move (default: the configuration's)")
    check.add_argument('--joint-limits', default=None,
                       help='joint_limits YAML (MoveIt / ros2_control) tightening the URDF '
                            'limits')
    check.add_argument('--grid', type=int, default=3,
                       help='start poses: home plus a GRID^3 grid of points in the workspace '
                            'box (default 3)')
    check.add_argument('--vocabulary', default=None,
                       help="vocabulary YAML (default: the package's config/primitives.yaml)")
    check.add_argument('--json', default=None, metavar='FILE',
                       help="also write the report as JSON to FILE ('-': print JSON only)")


def run(args):
    # deferred: a command imports its rooms when it runs, so --help stays fast
    from contrastive_vla.control.arm_check import check_arm, table
    from contrastive_vla.core.vocabulary import PrimitiveVocabulary
    from contrastive_vla.robot.arms import load_arm
    from contrastive_vla.ros.node_parameters import parameter

    if args.grid < 1:
        raise ValueError('--grid must be at least 1')
    arm = load_arm(args.arm_config, args.urdf, args.base_frame, args.tool_frame,
                   args.joint_limits)
    # the bridge's own per-step limits (its parameter defaults)
    params = {name: parameter('arm_bridge', name).default
              for name in ('max_step_translation', 'max_step_rotation')}
    report = check_arm(arm, params, PrimitiveVocabulary.load(args.vocabulary), grid=args.grid)
    text = json.dumps(report, indent=1)
    if args.json == '-':
        print(text)
    else:
        print(table(report))
        if args.json:
            with open(args.json, 'w', encoding='utf-8') as f:
                f.write(text + '\n')
            print(f'JSON report: {args.json}', file=sys.stderr)
    return 1 if report['limit_violations'] else 0
