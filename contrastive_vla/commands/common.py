"""Argument checks shared by the sub-commands (clear messages instead of odd failures)."""

MAX_SEED = 2 ** 62


def check_episodes_and_seed(episodes, seed, episodes_flag='--episodes'):
    """Raise ValueError naming the flag when an episode count or a seed is impossible."""
    if episodes <= 0:
        raise ValueError(f'{episodes_flag} must be positive')
    if not 0 <= seed < MAX_SEED:
        raise ValueError(f'--seed must be a non-negative integer below 2**62, got {seed}')
