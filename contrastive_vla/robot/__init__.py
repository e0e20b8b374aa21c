"""The robot room: the arm's description (joints, limits, workspace) and its kinematics.

Usable without the simulator: the arm bridge plans real-robot motions from it.
Entry points: :func:`contrastive_vla.robot.arms.load_arm` (any arm: the simulator's UR5e, a
packaged ``ur5e`` / ``fr3`` or your YAML, kinematics from its URDF via
:func:`contrastive_vla.robot.urdf.load_urdf`),
:func:`contrastive_vla.robot.description.load_arm_config` and
:class:`contrastive_vla.robot.kinematics.ArmKinematics`.
"""
