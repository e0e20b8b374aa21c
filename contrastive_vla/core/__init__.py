"""The core room, the bottom layer: facts every other room shares.

- :mod:`~contrastive_vla.core.vocabulary`: the motion-primitive vocabulary;
- :mod:`~contrastive_vla.core.delta`: the 8-D delta's layout, its validation and the
  workspace-box clamp;
- :mod:`~contrastive_vla.core.language`: free sentences -> primitives (the teleop parser),
  with the amount words of ``config/amounts.yaml``;
- :mod:`~contrastive_vla.core.status`: outcome statuses of a primitive, one Enum;
- :mod:`~contrastive_vla.core.types`: observations, step results, episode specs, the policy
  interface;
- :mod:`~contrastive_vla.core.images`: image message fields <-> RGB arrays, resize and crop;
- :mod:`~contrastive_vla.core.msgfields`: time stamps <-> ns and camera-info fields, shared
  by the rosbags and rclpy message builders;
- :mod:`~contrastive_vla.core.topics`: every topic name and type of the graph;
- :mod:`~contrastive_vla.core.resources`: where config/, models/ and launch/ live.

Nothing here imports torch, rclpy or mujoco (checked by the import contract).
"""
