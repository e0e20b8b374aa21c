"""rosbag2 ``metadata.yaml`` (versions 1-9): parsed and checked before any storage is opened."""

import logging
from pathlib import Path
from typing import NamedTuple

import yaml

from contrastive_vla.bag.types import BagError

LOGGER = logging.getLogger(__name__)


class Metadata(NamedTuple):
    """What the reader needs from ``metadata.yaml``."""

    version: int
    storage: str
    files: list[str]
    compression_mode: str
    topics: list[tuple[str, str, int]]  # (name, msgtype, count)
    ros_distro: str


def load_metadata(bag: Path) -> Metadata:
    """Parse and validate ``bag/metadata.yaml`` (rosbag2 versions 1-9)."""
    path = bag / 'metadata.yaml'
    try:
        doc = yaml.safe_load(path.read_text(encoding='utf-8'))
    except OSError as exc:
        raise BagError(f'{bag}: cannot read metadata.yaml ({exc.strerror or exc})') from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BagError(f'{bag}: metadata.yaml is not valid YAML ({exc})') from None
    info = doc.get('rosbag2_bagfile_information') if isinstance(doc, dict) else None
    if not isinstance(info, dict):
        raise BagError(f'{bag}: metadata.yaml has no "rosbag2_bagfile_information" mapping; '
                       'it is not rosbag2 metadata')

    def bad(what):
        return BagError(f'{bag}: metadata.yaml: {what}')

    version = info.get('version')
    if not isinstance(version, int) or isinstance(version, bool):
        raise bad(f'"version" must be an integer, got {version!r}')
    if version > 9:
        LOGGER.warning('%s: metadata version %d is newer than 9; reading it anyway', bag, version)
    storage = info.get('storage_identifier')
    if storage not in ('sqlite3', 'mcap'):
        raise bad(f'storage_identifier {storage!r} is not supported (sqlite3 or mcap)')
    files = info.get('relative_file_paths', [])
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise bad(f'"relative_file_paths" must be a list of file names, got {files!r}')
    mode = str(info.get('compression_mode') or '').strip().lower()
    mode = '' if mode == 'none' else mode
    if mode not in ('', 'file', 'message'):
        raise bad(f'compression_mode {mode!r} is not supported (FILE, MESSAGE or none)')
    fmt = str(info.get('compression_format') or '').strip().lower()
    if mode and fmt != 'zstd':
        raise bad(f'compression_format {fmt!r} is not supported (only zstd)')
    entries = info.get('topics_with_message_count') or []
    if not isinstance(entries, list):
        raise bad('"topics_with_message_count" must be a list')
    topics = []
    for idx, entry in enumerate(entries):
        meta = entry.get('topic_metadata') if isinstance(entry, dict) else None
        if (not isinstance(meta, dict) or not isinstance(meta.get('name'), str)
                or not isinstance(meta.get('type'), str)):
            raise bad(f'topics_with_message_count[{idx}] has no topic_metadata name and type')
        count = entry.get('message_count', 0)
        topics.append((meta['name'], meta['type'], count if isinstance(count, int) else 0))
    return Metadata(version, storage, files, mode, topics, str(info.get('ros_distro') or ''))
