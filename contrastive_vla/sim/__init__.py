"""The simulator room: a MuJoCo UR5e tabletop, the task suite and the scripted expert.

Entry point: :class:`contrastive_vla.sim.env.TabletopEnv`.
"""
