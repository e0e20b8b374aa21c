"""Shared fixtures: the package vocabulary and the location of ../shared (may be absent)."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / 'shared'


@pytest.fixture(scope='session')
def vocab():
    from contrastive_vla.core.vocabulary import PrimitiveVocabulary

    return PrimitiveVocabulary.load()


@pytest.fixture(scope='session')
def shared_dir():
    if not SHARED.is_dir():
        pytest.skip(f'{SHARED} is absent: the shared fixtures live beside the repository')
    return SHARED
