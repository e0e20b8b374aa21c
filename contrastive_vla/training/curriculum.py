"""A run's first phase on some tasks alone (``train --curriculum-tasks T --curriculum-steps N``).

Every run from scratch sits for about half an hour on a plateau (held-out accuracy ~0.44)
until the policy learns where the named block is in the image; reaching for it is what every
task starts with. Trained on the reach episodes alone, the policy learns it in a few minutes,
and the whole suite learns faster from there (docs/model-history.md, "Reach first"). So a
run may spend its first N steps on the samples of some tasks' episodes (told apart by the
bag names ``collect`` gives), then its epochs over all the data, on one learning-rate schedule
over both.

The phase draws its batches from shuffles of those samples, each seeded by the run's seed
and its number: the same on every process under torchrun and after a resume, like an epoch's.

Entry points: :func:`sample_tasks` (the task of every sample), :func:`curriculum_order`.
"""

import numpy as np

from contrastive_vla.data.demos import episode_task


def sample_tasks(dataset) -> np.ndarray:
    """The task id of every sample of ``dataset`` from its bag's name ('' where the bag is
    not named by task, e.g. a recording of one's own), as an object array."""
    tasks = np.array([episode_task(name) or '' for name in dataset.episodes], dtype=object)
    return tasks[dataset.episode_index]


def curriculum_order(dataset, tasks, steps, batch_size, seed) -> np.ndarray:
    """The ``steps * batch_size`` sample indices of the curriculum phase, in order: the
    samples of ``dataset`` whose episodes are of ``tasks`` (task ids), shuffled anew each
    time they are used up. ValueError (one line) when the data has no such episode."""
    chosen = np.flatnonzero(np.isin(sample_tasks(dataset), list(tasks)))
    if not len(chosen):
        raise ValueError(
            f'--curriculum-tasks {",".join(tasks)}: the training data has no episode of '
            'those tasks; the curriculum finds them by the bag names collect gives (e.g. '
            'reach_block_s600000). Give bags of those tasks, or train without '
            '--curriculum-steps.')
    need = steps * batch_size
    rounds = -(-need // len(chosen))
    return np.concatenate([chosen[np.random.default_rng((seed, k, 1)).permutation(len(chosen))]
                           for k in range(rounds)])[:need]
