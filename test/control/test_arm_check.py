"""control/arm_check.py and `contrastive-vla arm check`: every primitive planned from a set of
start poses on the vendor URDFs, 0 limit violations."""

import json
from pathlib import Path

import pytest

from contrastive_vla.cli import main
from contrastive_vla.control.arm_check import check_arm
from contrastive_vla.robot.arms import load_arm

URDF_DIR = Path(__file__).resolve().parents[3] / 'shared' / 'fixtures' / 'urdf'
PARAMS = {'max_step_translation': 0.2, 'max_step_rotation': 1.6}


def vendor(name):
    path = URDF_DIR / f'{name}.urdf'
    if not path.is_file():
        pytest.skip(f'vendor URDF {path} is not there (shared fixtures absent)')
    return str(path)


def test_fr3_plans_stay_within_its_limits_from_every_start_pose():
    report = check_arm(load_arm('fr3', vendor('fr3')), PARAMS, grid=2, box_samples=200)
    assert report['start_poses'] == 9 and not report['unreachable_starts']
    assert report['limit_violations'] == 0
    assert all(s['limit_violations'] == 0 for s in report['per_start'])
    assert report['min_joint_limit_margin'] >= 0
    assert report['plans'] == report['reached'] + report['refused']
    # translations are reached from every start pose
    for family in ('x', 'y', 'z', 'gripper'):
        assert report['families'][family]['share_reached'] == 1.0, family


def test_arm_check_command_prints_json_with_the_promised_keys(tmp_path, capsys):
    out = tmp_path / 'ur5e.json'
    code = main(['arm', 'check', '--urdf', vendor('ur5e'), '--arm-config', 'ur5e', '--grid',
                 '1', '--json', str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert 'share reached' in printed and '0 limit violations' in printed
    report = json.loads(out.read_text())
    assert {'primitives', 'plans', 'reached', 'refused', 'limit_violations', 'families',
            'reachable_box'} <= set(report)
    assert report['arm']['base_frame'] == 'base_link' and report['limit_violations'] == 0
    assert len(report['primitives']) == 58


def test_arm_check_missing_tool_frame_is_one_line(capsys):
    code = main(['arm', 'check', '--urdf', vendor('fr3'), '--tool-frame', 'nope',
                 '--base-frame', 'base'])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tool_frame 'nope' is not a link" in err[0]
