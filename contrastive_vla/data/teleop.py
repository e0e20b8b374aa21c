"""Natural-language teleoperation: a person talks the simulated arm through a task, step by
step, and each episode becomes a demonstration bag (the same format ``collect`` writes, with
the person's own sentence on ``supervision``).

``TeleopSession.say(sentence)`` is the whole protocol, so the CLI, scripts and tests drive it the
same way: a motion sentence is mapped to a primitive (``language.SentenceMapper``), executed,
and buffered as a step; "undo" moves back (the undone step is dropped from the demonstration);
an unclear sentence gets numbered candidates to pick from ("1", "2", "3" or "no"); "done" /
"failed" end the episode and write its bag, marked with the outcome the person gave.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contrastive_vla.evaluation.rollout import StepRecord
from contrastive_vla.language import SentenceMapper

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
        self.steps, self.pending = [], None
        self._save_view()
        return Reply(f'task {task_id} (seed {seed}): "{self.env.spec.instruction}". Tell the '
                     'arm what to do, one step at a time; "undo" to take a step back, "done" '
                     'or "failed" to finish.')

    def finish(self, success):
        from contrastive_vla.data.bags import BagWriter
        from contrastive_vla.data.demos import EpisodeBagRecorder, episode_name

        spec = self.env.spec
        path = self.out_dir / f'teleop_{episode_name(spec.task_id, spec.seed)}'
        n = 1
        while path.exists():
            n += 1
            path = self.out_dir / f'teleop_{episode_name(spec.task_id, spec.seed)}_{n}'
        with BagWriter(path, storage=self.storage) as writer:
            recorder = EpisodeBagRecorder(writer, self.env, np.random.default_rng(0))
            recorder.start(spec)
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
                return Reply(f'not sure what "{text}" means. Did you mean {options}? '
                             '(say the number, or "no")')
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
        result = self.env.step(primitive)
        finished = self.env.data.time
        if result.status in ('rejected', 'unreachable'):
            return Reply(f'"{primitive.phrase}" was not executed: {result.status} '
                         f'({result.message})')
        record = StepRecord(before, primitive, result.status, result.message, 0.0)
        self.steps.append((before, record, finished, sentence))
        self.observation = self.env.observe()
        self._save_view()
        extra = '' if result.status == 'done' else f' [{result.status}: {result.message}]'
        hint = ' The task looks done: say "done".' if result.success else ''
        return Reply(f'-> "{primitive.phrase}"{note}{extra}.{hint}')

    def _undo(self):
        if not self.steps:
            return Reply('nothing to undo')
        _obs, record, _t, sentence = self.steps[-1]
        delta = -np.asarray(record.primitive.delta_array(), dtype=np.float64)
        result = self.env.step(delta)
        if result.status in ('rejected', 'unreachable'):
            return Reply(f'cannot undo "{record.primitive.phrase}": {result.message}')
        self.steps.pop()
        self.observation = self.env.observe()
        self._save_view()
        return Reply(f'undone: "{record.primitive.phrase}" (said as "{sentence}")')

    def _save_view(self):
        if self.view_path is None:
            return
        import cv2

        self.view_path.parent.mkdir(parents=True, exist_ok=True)
        image = self.env.render(size=(360, 360))
        cv2.imwrite(str(self.view_path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
