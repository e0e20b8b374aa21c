import pytest


@pytest.fixture(scope='session')
def env():
    from contrastive_vla.sim.env import TabletopEnv

    environment = TabletopEnv(image_size=(64, 64))
    yield environment
    environment.close()
