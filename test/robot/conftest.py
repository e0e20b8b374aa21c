from types import SimpleNamespace

import numpy as np
import pytest

from contrastive_vla.robot.description import load_arm_config
from contrastive_vla.robot.kinematics import ArmKinematics
from contrastive_vla.robot.mjcf import arm_model, import_mujoco


@pytest.fixture(scope='session')
def arm():
    """The packaged arm's kinematics, built without the simulator's scene."""
    cfg = load_arm_config()
    robot = cfg['robot']
    mujoco = import_mujoco()
    kin = ArmKinematics(mujoco, arm_model(cfg, mujoco), robot['joint_names'],
                        robot['joint_lower'], robot['joint_upper'])
    home = np.asarray(robot['home_joints'], dtype=np.float64)
    return SimpleNamespace(kin=kin, cfg=cfg, home_q=home)
