"""The episode runner shared by everything that rolls out a policy in the simulator.

A policy (:class:`contrastive_vla.core.types.Policy`) has ``reset(task, seed)`` and
``act(observation) -> primitive or None`` (None = the policy gives up); a privileged one (the
scripted expert) is first given the environment with ``attach(env)``.

The runner observes, asks, executes one primitive completely, observes again (CLIP-RT's
step-wise rhythm), stops on success or at the task's step budget, and tells an optional
``on_step`` callback everything (the data collector records bags from it).

An optional stuck detector (``control.stuck.StuckDetector``, passed in: this room does not
import ``control``) is fed every executed decision with its outcome and message, as the VLA
node feeds it from ``primitive_status``; the result says when it fired and why, and with
``stop_when_stuck`` the episode ends there (a failure unless it was the step that succeeded),
as the node stops deciding.

An optional loop breaker (``control.loops.LoopBreaker``, passed in the same way) picks the
primitive to execute from the policy's scores of the decision (``policy.last_scores``, which a
scoring policy keeps after ``act``): the policy's choice unless that was already executed from
the same arm state; it is fed every executed decision like the stuck detector.
"""

from dataclasses import dataclass, field
import time

from contrastive_vla.core.status import Outcome
from contrastive_vla.core.types import PrivilegedPolicy


@dataclass
class StepRecord:
    observation: object       # the Observation the decision was made from
    primitive: object         # the Primitive executed (None if the policy gave up)
    status: Outcome
    message: str
    decision_ms: float


@dataclass
class EpisodeResult:
    task_id: str
    seed: int
    instruction: str
    success: bool
    steps: int
    statuses: dict = field(default_factory=dict)
    primitives: list = field(default_factory=list)
    decision_ms: list = field(default_factory=list)
    wall_s: float = 0.0
    final_observation: object = None
    stuck_at: int | None = None    # the step after which the stuck detector fired (or None)
    stuck_reason: str | None = None

    def to_dict(self):
        return {'task': self.task_id, 'seed': self.seed, 'instruction': self.instruction,
                'success': self.success, 'steps': self.steps, 'statuses': self.statuses,
                'primitives': self.primitives, 'wall_s': round(self.wall_s, 3),
                'stuck_at': self.stuck_at, 'stuck_reason': self.stuck_reason}


def run_episode(env, policy, task_id, seed, instruction=None, max_steps=None, on_step=None,
                render=True, perturb=None, stuck=None, stop_when_stuck=False, loops=None):
    """Roll out ``policy`` on (task_id, seed); returns an EpisodeResult.

    ``stuck``: a stuck detector (``reset()``,
    ``observe(delta, name, outcome, message) -> reason or None``), reset here and fed each
    step with its outcome and message; ``stop_when_stuck`` ends the
    episode when it fires. ``loops``: a loop breaker (``reset()``, ``choose(scores) -> index``,
    ``observe(index, delta, outcome, message)``, ``passed_over``: what its last choice passed
    over, empty when it was the policy's; the stuck detector is told whether it did), used
    with a policy that keeps ``last_scores`` and ``vocab``; others run as they are.

    ``perturb(env) -> bool``, called before each decision, may move the arm off course (the
    CLIP-RT recovery-pair augmentation at collection time); when it returns True the scene is
    observed again, so the decision and its recorded image show the state to recover from.
    """
    start = time.perf_counter()
    observation = env.reset(task_id, seed, instruction=instruction)
    if isinstance(policy, PrivilegedPolicy):
        policy.attach(env)
    policy.reset(env.spec, seed=seed)
    budget = max_steps or env.tasks[task_id].step_budget
    result = EpisodeResult(task_id, seed, env.spec.instruction, env.success(), 0)
    if stuck is not None:
        stuck.reset()
    if loops is not None:
        loops.reset()
    while not result.success and result.steps < budget:
        if perturb is not None and result.steps > 0 and perturb(env):
            result.success = env.success()
            if result.success:
                break
            observation = env.observe(render=render)
        t0 = time.perf_counter()
        primitive = policy.act(observation)
        chosen, passed_over = None, False
        scores = getattr(policy, 'last_scores', None)
        if loops is not None and primitive is not None and scores is not None:
            chosen = loops.choose(scores)
            passed_over = bool(loops.passed_over)
            primitive = policy.vocab[chosen]
        decision_ms = (time.perf_counter() - t0) * 1e3
        result.decision_ms.append(decision_ms)
        if primitive is None:
            if on_step:
                on_step(StepRecord(observation, None, Outcome.GAVE_UP, 'policy gave up',
                                   decision_ms))
            break
        step = env.step(primitive)
        result.steps += 1
        result.statuses[step.status] = result.statuses.get(step.status, 0) + 1
        result.primitives.append(step.primitive.name if step.primitive else str(primitive))
        if on_step:
            on_step(StepRecord(observation, step.primitive, step.status, step.message,
                               decision_ms))
        result.success = step.success
        if chosen is not None and step.primitive is not None:
            loops.observe(chosen, step.primitive.delta_array(), step.status, step.message)
        if stuck is not None and step.primitive is not None and result.stuck_at is None:
            reason = stuck.observe(step.primitive.delta_array(), step.primitive.name,
                                   step.status, step.message, passed_over=passed_over)
            if reason is not None:
                result.stuck_at, result.stuck_reason = result.steps, reason
        observation = env.observe(render=render)
        if stop_when_stuck and result.stuck_at is not None:
            break
    result.final_observation = observation
    result.wall_s = time.perf_counter() - start
    return result
