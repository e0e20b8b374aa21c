"""The model room: the CLIP-RT policy (architecture, checkpoints, inference) and its training.

Entry points: :class:`contrastive_vla.model.policy.ClipRTPolicy` (load a model, rank primitives)
and :func:`contrastive_vla.training.train.train` (``contrastive-vla train``).
"""
