"""The robot room: the arm's description (joints, limits, workspace) and its kinematics.

Usable without the simulator: the arm bridge plans real-robot motions from it.
Entry points: :func:`contrastive_vla.robot.description.load_arm_config` and
:class:`contrastive_vla.robot.kinematics.ArmKinematics`.
"""
