"""Topic names and message types of the whole project, from config/topics.yaml."""

from __future__ import annotations

from dataclasses import dataclass
import functools
import os

import yaml

from contrastive_vla.core.resources import config_path


@dataclass(frozen=True)
class Topic:
    key: str
    name: str      # relative name, e.g. 'image_raw'
    type: str      # ROS 2 type name, e.g. 'sensor_msgs/msg/Image'

    @property
    def bag_name(self) -> str:
        """The name a root-namespace recording stores ('/image_raw')."""
        return '/' + self.name.lstrip('/')


@functools.lru_cache(maxsize=None)
def load_topics(path: str | os.PathLike[str] | None = None) -> dict[str, Topic]:
    """key -> Topic. Keys: image, camera_info, instruction, primitive, joint_states, ..."""
    path = path or config_path('topics.yaml')
    with open(path, encoding='utf-8') as f:
        data = yaml.safe_load(f)
    topics = {}
    for key, entry in (data or {}).get('topics', {}).items():
        if not isinstance(entry, dict) or not entry.get('name') or not entry.get('type'):
            raise ValueError(f'{path}: topic {key!r} needs a "name" and a "type"')
        topics[key] = Topic(key, entry['name'], entry['type'])
    return topics


def topic(key: str) -> Topic:
    return load_topics()[key]
