"""The base of the evaluation's policy wrappers (the language probe, the episode trace): the
policy under test, with the scripted expert following the same episode beside it.

A wrapper is what the episode runner sees, so it passes on what the runner asks of the policy:
``name``, ``needs_images``, ``attach(env)`` and, for the loop breaker, the scores of the last
decision (``last_scores``) and the vocabulary they index (``vocab``).
"""

from contrastive_vla.sim.expert import ScriptedExpert


class BesideExpert:
    def __init__(self, policy, expert=None):
        self.policy = policy
        self.expert = expert or ScriptedExpert.greedy()
        self.name = getattr(policy, 'name', 'policy')
        self.needs_images = getattr(policy, 'needs_images', True)
        self.env = None

    def attach(self, env):
        self.env = env
        self.expert.attach(env)
        if callable(getattr(self.policy, 'attach', None)):
            self.policy.attach(env)

    @property
    def last_scores(self):
        """The wrapped policy's scores of its last decision (for a loop breaker), if any."""
        return getattr(self.policy, 'last_scores', None)

    @property
    def vocab(self):
        return getattr(self.policy, 'vocab', None)
