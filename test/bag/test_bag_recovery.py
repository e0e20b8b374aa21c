"""Crash recovery: a hard-killed recording saved as a complete bag."""

import pytest

from contrastive_vla.bag import BagError, BagWriter, open_bag, partial_recordings, recover_bag
from contrastive_vla.core.images import image_to_rgb


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_hard_killed_recording_is_recovered(tmp_path, storage):
    """SIGKILL mid-recording (no close, no metadata.yaml): what reached the disk is saved."""
    import subprocess
    import sys

    path = tmp_path / 'session'
    script = f"""
import os, signal, numpy as np
from contrastive_vla.bag import BagWriter, image_msg, string_msg
bag = BagWriter({str(path)!r}, storage={storage!r}).open()
bag.add_topic('/image_raw', 'sensor_msgs/msg/Image')
bag.add_topic('/instruction', 'std_msgs/msg/String')
bag.write('/instruction', 1, string_msg('stack the red block'))
for i in range(120):
    rgb = np.full((96, 96, 3), i, np.uint8)
    bag.write('/image_raw', 10 + i, image_msg(rgb, 10 + i, 'camera'))
    if i == 99:
        bag.flush()  # what the recorder does once a second
os.kill(os.getpid(), signal.SIGKILL)
"""
    run = subprocess.run([sys.executable, '-c', script], capture_output=True, timeout=120)
    assert run.returncode == -9, run.stderr.decode()
    assert not path.exists()
    partials = partial_recordings(path)
    assert len(partials) == 1
    counts, notes = recover_bag(partials[0], path)
    # everything up to the last flush is kept (MCAP also keeps the full 1 MiB chunks after it)
    assert 100 <= counts['/image_raw'] <= 120, (counts, notes)
    assert counts['/instruction'] == 1
    with open_bag(path) as bag:
        assert (path / 'metadata.yaml').is_file()
        values = [int(image_to_rgb(m.msg)[0, 0, 0]) for m in bag.messages('/image_raw')]
        assert values == list(range(len(values)))
        assert next(bag.messages('/instruction')).msg.data == 'stack the red block'


def test_recover_refuses_missing_and_existing(tmp_path):
    with pytest.raises(BagError, match='no such directory'):
        recover_bag(tmp_path / 'nothing', tmp_path / 'out')
    (tmp_path / 'out').mkdir()
    with BagWriter(tmp_path / 'src') as bag:
        bag.add_topic('/instruction', 'std_msgs/msg/String')
    with pytest.raises(BagError, match='exists already'):
        recover_bag(tmp_path / 'src', tmp_path / 'out')
