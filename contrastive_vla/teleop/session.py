"""Natural-language teleoperation: a person talks an arm through a task, step by step, and each
episode becomes a demonstration bag (the same format ``collect`` writes, with the person's own
sentence on ``supervision``).

The arm is the in-process simulator (``sim.env.TabletopEnv``) or a running graph, real arm or
simulator node, through the arm bridge (``ros.teleop_arm.RosArm``); both offer ``reset``,
``step``, ``observe``, ``render``, ``success``, ``now`` and ``camera_intrinsics``.

``TeleopSession.say(sentence)`` is the whole protocol, so the CLI, scripts and tests drive it the
same way: a motion sentence is mapped to a primitive (``language.SentenceMapper``), executed,
and buffered as a step; "undo" moves back (the undone step is dropped from the demonstration);
an unclear sentence gets numbered candidates to pick from ("1", "2", "3" or "no"); "done" /
"failed" end the episode and write its bag, marked with the outcome the person gave.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contrastive_vla.core.language import SentenceMapper
from contrastive_vla.core.status import NOT_EXECUTED, Outcome
from contrastive_vla.data.demos import EpisodeBagRecorder, episode_name
from contrastive_vla.sim.expert import ScriptedExpert
from contrastive_vla.sim.rollout import StepRecord

SUCCESS_WORDS = ('done', 'success', 'succeeded', 'finished', "that's it", 'task complete')
FAILURE_WORDS = ('fail', 'failed', 'failure', 'give up', 'abort')
UNDO_WORDS = ('undo', 'go back a step', 'take that back')
CHOICES = {'yes': 1, '1': 1, '2': 2, '3': 3, 'one': 1, 'two': 2, 'three': 3}


@dataclass
class Reply:
    text: str
    episode_over: bool = False
    bag: Path = None


class TeleopSession:
    def __init__(self, env, out_dir, storage='mcap', view_path=None):
        self.env = env
        self.out_dir = Path(out_dir)
        self.storage = storage
        self.view_path = Path(view_path) if view_path else None
        self.mapper = SentenceMapper(env.vocab)
        self.steps = []        # [(observation, StepRecord, finish time, sentence)]
        self.pending = None    # (sentence, candidates) awaiting a choice
        self.observation = None

    # ---- episodes --------------------------------------------------------------------------
    def start(self, task_id, seed, instruction=None):
        self.observation = self.env.reset(task_id, seed, instruction=instruction)
        self.started_at = self.observation.time
        self.steps, self.pending = [], None
        self._save_view()
        return Reply(f'task {task_id} (seed {seed}): "{self.env.spec.instruction}". Tell the '
                     'arm what to do, one step at a time; "undo" to take a step back, "done" '
                     'or "failed" to finish.')

    def finish(self, success):
        # deferred: rosbags loads only where bags are read or written
        from contrastive_vla.bag import BagWriter

        spec = self.env.spec
        path = self.out_dir / f'teleop_{episode_name(spec.task_id, spec.seed)}'
        n = 1
        while path.exists():
            n += 1
            path = self.out_dir / f'teleop_{episode_name(spec.task_id, spec.seed)}_{n}'
        with BagWriter(path, storage=self.storage) as writer:
            recorder = EpisodeBagRecorder(writer, self.env, np.random.default_rng(0))
            recorder.start(spec, at=max(0.0, self.started_at - 1e-3))
            for obs, record, finished, sentence in self.steps:
                recorder.observation(obs)
                recorder.step(record, finished, sentence=sentence)
            recorder.end(self.env.observe(), success)
        steps = len(self.steps)
        self.steps = []
        return Reply(f'episode saved as {"success" if success else "failure"} with {steps} '
                     f'step(s): {path}', episode_over=True, bag=path)

    # ---- talking ---------------------------------------------------------------------------
    def say(self, sentence):
        text = ' '.join(str(sentence).split())
        low = text.lower().strip('.!? ')
        if self.env.spec is None:
            return Reply('no episode: start one first')
        if low in CHOICES or low == 'no':
            if self.pending is None:
                return Reply('there is nothing to choose from')
            return self._choose(low)
        self.pending = None  # a new sentence instead of an answer
        if low in SUCCESS_WORDS:
            return self.finish(True)
        if low in FAILURE_WORDS:
            return self.finish(False)
        if low in UNDO_WORDS:
            return self._undo()
        meaning = self.mapper.interpret(text)
        if meaning.primitive is None:
            if meaning.candidates:
                self.pending = (text, [p for p, _ in meaning.candidates])
                options = '; '.join(f'{i + 1}: "{p.phrase}"' for i, p in
                                    enumerate(self.pending[1]))
                return Reply(f'{meaning.note}. Did you mean {options}? (say the number, or '
                             '"no")')
            return Reply(f'"{text}": {meaning.note}')
        note = f' ({meaning.note})' if meaning.note else ''
        return self._execute(meaning.primitive, text, note)

    def _choose(self, answer):
        sentence, options = self.pending
        self.pending = None
        choice = CHOICES.get(answer)
        if choice is None or choice > len(options):
            return Reply('ok, nothing done')
        return self._execute(options[choice - 1], sentence, '')

    def _execute(self, primitive, sentence, note):
        before = self.observation
        try:
            result = self.env.step(primitive)
        except RuntimeError as exc:  # a graph that stopped answering
            return Reply(f'"{primitive.phrase}": no confirmation from the arm, the step is not '
                         f'recorded (look at the arm before going on): {exc}')
        finished = self.env.now()
        if result.status in NOT_EXECUTED:
            return Reply(f'"{primitive.phrase}" was not executed: {result.status} '
                         f'({result.message})')
        record = StepRecord(before, primitive, result.status, result.message, 0.0)
        self.steps.append((before, record, finished, sentence))
        self.observation = self.env.observe()
        self._save_view()
        extra = '' if result.status == Outcome.DONE else f' [{result.status}: {result.message}]'
        hint = ' The task looks done: say "done".' if result.success else ''
        return Reply(f'-> "{primitive.phrase}"{note}{extra}.{hint}')

    def _undo(self):
        if not self.steps:
            return Reply('nothing to undo')
        _obs, record, _t, sentence = self.steps[-1]
        delta = -np.asarray(record.primitive.delta_array(), dtype=np.float64)
        try:
            result = self.env.step(delta)
        except RuntimeError as exc:
            return Reply(f'cannot undo "{record.primitive.phrase}": no confirmation from the '
                         f'arm ({exc})')
        if result.status in NOT_EXECUTED:
            return Reply(f'cannot undo "{record.primitive.phrase}": {result.message}')
        self.steps.pop()
        self.observation = self.env.observe()
        self._save_view()
        return Reply(f'undone: "{record.primitive.phrase}" (said as "{sentence}")')

    def _save_view(self):
        if self.view_path is None:
            return
        # deferred: OpenCV loads only where frames are decoded or resized
        import cv2

        self.view_path.parent.mkdir(parents=True, exist_ok=True)
        image = self.env.render(size=(360, 360))
        cv2.imwrite(str(self.view_path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


# ---- a scripted operator: a stand-in for the person, for demos, tests and benchmarks --------
_SAY_DIRECTION = {  # (axis, sign) -> ways a person names that direction
    ('x', 1): ('forward', 'away from me', 'further away', 'ahead'),
    ('x', -1): ('back', 'backward', 'toward me', 'closer to me'),
    ('y', 1): ('left', 'to the left', 'leftward'),
    ('y', -1): ('right', 'to the right', 'rightward'),
    ('z', 1): ('up', 'upward', 'higher'),
    ('z', -1): ('down', 'downward', 'lower'),
}
_SAY_SMALLEST = 'a tiny bit'  # the smallest step in config/amounts.yaml ("a bit" is the next)
_SAY_VERB = ('move', 'go', 'bring the arm', 'shift', 'take it')
_SAY_NUMBER = {1: 'one', 2: 'two', 3: 'three', 5: 'five', 10: 'ten', 15: 'fifteen',
               20: 'twenty'}
_SAY_GRIPPER = {-1: ('close the gripper', 'grab it', 'grip the block', 'close it'),
                1: ('open the gripper', 'let go', 'release it', 'open it')}


class ScriptedOperator:
    """Talks the arm through a task the way a person would, when no person is at hand.

    It looks at the scene (the simulator's state, as a person looks at the table), decides
    the next step with the scripted expert, and *says* it in casual words ("go left ten
    centimeters", "a tiny bit lower", "grab it"); the session maps the sentence back to a
    primitive exactly as it maps a person's. So the language mapping, the recording and the
    bags are the real teleoperation path; only the person is replaced. ``misheard`` counts
    sentences the session understood as another primitive than the one meant.
    """

    def __init__(self, session, seed=0, max_steps=None):
        self.session = session
        self.rng = np.random.default_rng(seed)
        self.expert = ScriptedExpert(np.random.default_rng(seed))
        self.max_steps = max_steps
        self.said = self.misheard = 0

    def sentence(self, primitive):
        """A casual sentence for ``primitive`` (translation or gripper)."""
        pick = lambda options: options[int(self.rng.integers(len(options)))]  # noqa: E731
        if primitive.axis == 'gripper':
            return pick(_SAY_GRIPPER[primitive.direction])
        key = (primitive.axis, primitive.direction)
        if key not in _SAY_DIRECTION:  # rotations: say the vocabulary's own phrase
            return primitive.phrase
        direction = pick(_SAY_DIRECTION[key])
        cm = int(round(primitive.magnitude * 100))
        amounts = [f'{cm} cm', f'{cm} centimeter{"s" if cm != 1 else ""}']
        if cm in _SAY_NUMBER:
            amounts.append(f'{_SAY_NUMBER[cm]} centimeter{"s" if cm != 1 else ""}')
        if primitive is self.session.env.vocab.ladder(*key)[0]:  # the smallest step
            amounts.append(_SAY_SMALLEST)
        amount = pick(amounts)
        if amount == _SAY_SMALLEST:
            return pick((f'{direction} {amount}', f'{amount} {direction}',
                         f'{pick(_SAY_VERB)} {direction} {amount}'))
        return pick((f'{pick(_SAY_VERB)} {direction} {amount}', f'{direction} {amount}',
                     f'{pick(_SAY_VERB)} {amount} {direction}'))

    def run_episode(self, task_id, seed, instruction=None, echo=print):
        """Teach one episode; returns the final Reply (the saved bag is ``reply.bag``)."""
        env = self.session.env
        echo(self.session.start(task_id, seed, instruction).text)
        self.expert.attach(env)
        self.expert.reset(env.spec, seed=seed)
        budget = self.max_steps or 2 * env.tasks[task_id].step_budget
        for _ in range(budget):
            if env.success():
                break
            intended = self.expert.act()
            sentence = self.sentence(intended)
            self.said += 1
            taken = len(self.session.steps)
            echo(f'> {sentence}')
            reply = self.session.say(sentence)
            echo(reply.text)
            if self.session.pending is not None:  # asked to confirm: pick the meant one
                options = self.session.pending[1]
                answer = (str(options.index(intended) + 1) if intended in options else 'no')
                echo(f'> {answer}')
                reply = self.session.say(answer)
                echo(reply.text)
            steps = self.session.steps
            if len(steps) == taken or steps[-1][1].primitive.index != intended.index:
                self.misheard += 1
        verdict = 'done' if env.success() else 'failed'
        echo(f'> {verdict}')
        reply = self.session.say(verdict)
        echo(reply.text)
        return reply
