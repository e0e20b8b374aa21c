"""Argument checks shared by the sub-commands (clear messages instead of odd failures)."""

from pathlib import Path

MAX_SEED = 2 ** 62


def check_episodes_and_seed(episodes, seed, episodes_flag='--episodes'):
    """Raise ValueError naming the flag when an episode count or a seed is impossible."""
    if episodes <= 0:
        raise ValueError(f'{episodes_flag} must be positive')
    if not 0 <= seed < MAX_SEED:
        raise ValueError(f'--seed must be a non-negative integer below 2**62, got {seed}')


def instruction_wordings(sources, tasks):
    """``--instructions`` values -> (what a summary records, a short column name, task id ->
    templates, or None for the task templates) per source: "templates" or a YAML file."""
    # deferred: a command imports its rooms when it runs, so --help stays fast
    from contrastive_vla.sim.tasks import load_instruction_overrides

    return [('task templates', 'templates', None) if source == 'templates' else
            (source, Path(source).stem, load_instruction_overrides(source, tasks))
            for source in sources or ['templates']]
