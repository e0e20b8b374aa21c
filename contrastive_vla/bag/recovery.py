"""Crash recovery: what a killed :class:`~contrastive_vla.bag.writer.BagWriter` left behind
(a hidden ``.NAME.*.partial`` directory without ``metadata.yaml``) saved as a complete bag.
"""

import os
from pathlib import Path

from contrastive_vla.bag.reader import open_bag
from contrastive_vla.bag.types import BagError
from contrastive_vla.bag.writer import BagWriter


def partial_recordings(path: str | os.PathLike) -> list[Path]:
    """Hidden partial bags a killed writer left next to ``path`` (``.NAME.*.partial``)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    return sorted(d for d in path.parent.glob(f'.{path.name}.*.partial') if d.is_dir())


def recover_bag(partial: str | os.PathLike, out: str | os.PathLike,
                storage: str = 'mcap') -> tuple[dict[str, int], list[str]]:
    """Save what an interrupted recording holds as a complete bag at ``out``.

    ``partial`` is the hidden ``.NAME.*.partial`` directory a killed :class:`BagWriter` leaves
    (or any bag directory without ``metadata.yaml``). Everything readable is copied, in time
    order; a cut last record and the chunk that was still in memory at the kill are lost.
    Returns ``(counts per topic, notes on what could not be read)``; the partial directory is
    left in place for the caller to delete once the copy is checked.
    """
    source = Path(partial)
    if not source.is_dir():
        raise BagError(f'{source}: no such directory')
    inner = [d for d in source.iterdir() if d.is_dir()]
    if source.name.endswith('.partial') and len(inner) == 1:
        source = inner[0]  # BagWriter writes the bag one level down
    counts = {}
    with open_bag(source) as reader, BagWriter(out, storage=storage) as writer:
        for info in reader.topics.values():
            writer.add_topic(info.name, info.msgtype)
            counts[info.name] = 0
        for m in reader.messages():
            writer.write(m.topic, m.timestamp_ns, m.msg)
            counts[m.topic] += 1
        notes = list(reader.skipped)
    return counts, notes
