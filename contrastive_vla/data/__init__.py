"""The data room: demonstrations and the datasets trained on.

Entry points: :func:`contrastive_vla.data.demos.collect` (expert demonstrations recorded as
rosbag2 bags), :func:`contrastive_vla.data.dataset.load_demonstrations` (bags -> training
samples) and :mod:`contrastive_vla.data.camera` (frames from a camera device or a video file).
"""
