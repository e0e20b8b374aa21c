"""The evaluation room: episode rollouts, closed-loop success in the simulator, and scoring.

Entry points: :func:`contrastive_vla.sim.rollout.run_episode` and
:func:`contrastive_vla.evaluation.sim_eval.evaluate_in_sim`.
"""
