"""The training room: demonstrations + model -> a trained CLIP-RT checkpoint.

Entry point: :func:`contrastive_vla.training.train.train` (``contrastive-vla train``), given a
:class:`contrastive_vla.training.config.TrainingConfig`.
"""
