"""rosbags type stores: the one the builders use, the one a bag is read with, and types
registered from the definitions a bag embeds.

Service-event types (``pkg/srv/X_Event``), whose embedded definition is the ``.srv`` text, are
built the way rosidl builds them: ``X_Request``, ``X_Response`` and ``X_Event`` =
``service_msgs/msg/ServiceEventInfo info, X_Request[<=1] request, X_Response[<=1] response``.
"""

import functools
import re

from rosbags.interfaces import Nodetype
from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

# ros_distro (metadata v8+) -> type store. 'rolling' and unknown names fall back to the version.
_DISTRO_STORES = {
    'dashing': Stores.ROS2_DASHING,
    'eloquent': Stores.ROS2_ELOQUENT,
    'foxy': Stores.ROS2_FOXY,
    'galactic': Stores.ROS2_GALACTIC,
    'humble': Stores.ROS2_HUMBLE,
    'iron': Stores.ROS2_IRON,
    'jazzy': Stores.ROS2_JAZZY,
    'kilted': Stores.ROS2_KILTED,
    'lyrical': Stores.ROS2_LYRICAL,
}


@functools.lru_cache(maxsize=None)
def kilted_typestore() -> Typestore:
    """The shared ROS 2 Kilted rosbags type store used by the message builders and writer."""
    return get_typestore(Stores.ROS2_KILTED)


def pick_store(version: int | None, ros_distro: str | None) -> Stores:
    """Type store for a bag: its ``ros_distro`` if known, else by metadata version.

    v1-4 Foxy, v5-6 Humble, v7-8 Iron, v9 and bags without metadata Kilted (what new bags
    are written with). The stores differ little; types missing from the chosen store are
    registered from the bag's embedded definitions anyway.
    """
    distro = str(ros_distro or '').strip().lower()
    if distro in _DISTRO_STORES:
        return _DISTRO_STORES[distro]
    if version is None or version >= 9:
        return Stores.ROS2_KILTED
    if version <= 4:
        return Stores.ROS2_FOXY
    if version <= 6:
        return Stores.ROS2_HUMBLE
    return Stores.ROS2_IRON


def add_definition(definitions: dict[str, tuple[str, str]], name: str, encoding: str,
                   text: str) -> None:
    """Record an embedded definition (first one wins), if it is a ROS 2 msg or idl text."""
    kind = {'ros2msg': 'msg', 'ros2idl': 'idl', 'omgidl': 'idl'}.get(str(encoding))
    if kind and name and text and name not in definitions:
        definitions[name] = (kind, str(text))


def register_type(typestore: Typestore, msgtype: str,
                  definitions: dict[str, tuple[str, str]]) -> str | None:
    """Register ``msgtype`` from a bag's embedded definitions; a reason if impossible.

    ``definitions`` maps type names to ``(kind, text)`` as :func:`add_definition` fills it.
    """
    parts = msgtype.split('/')
    service = (len(parts) == 3 and parts[1] == 'srv' and parts[2].endswith('_Event'))
    text_def = definitions.get(msgtype)
    if service:
        base = f'{parts[0]}/srv/{parts[2][:-len("_Event")]}'
        text_def = text_def or definitions.get(base)
    if text_def is None:
        return ('type not in the type store and the bag embeds no definition for it')
    kind, text = text_def
    try:
        if service and kind == 'msg' and _is_srv_text(text):
            typs = _service_event_types(msgtype, text, typestore)
        elif kind == 'idl':
            typs = get_types_from_idl(text)
        else:
            typs = get_types_from_msg(text, msgtype)
        if msgtype not in typs:
            return f'the embedded definition does not define {msgtype}'
        typestore.register(
            {name: td for name, td in typs.items() if name not in typestore.types})
        typestore.get_msgdef(msgtype)  # resolves nested types: fails early if missing
    except Exception as exc:  # noqa: BLE001 - parser/typesys errors have many types
        return f'the embedded definition could not be used ({type(exc).__name__}: {exc})'
    return None


def _is_srv_text(text):
    return any(line.strip() == '---' for line in text.splitlines())


def _service_event_types(msgtype, text, typestore):
    """Typesdict for ``pkg/srv/X_Event`` (+ Request, Response) from embedded .srv text."""
    pkg, _, event = msgtype.split('/')
    name = event[:-len('_Event')]
    # Dependencies may follow the .srv text as '====...\nMSG: pkg/Type' sections.
    match = re.search(r'^=+\s*\nMSG: ', text, flags=re.M)
    main, deps_text = (text[:match.start()], text[match.start():]) if match else (text, '')
    lines = main.splitlines()
    cut = next(i for i, line in enumerate(lines) if line.strip() == '---')
    typs = {}
    for suffix, part in (('Request', lines[:cut]), ('Response', lines[cut + 1:])):
        typs.update(get_types_from_msg('\n'.join(part) + '\n' + deps_text,
                                       f'{pkg}/msg/{name}_{suffix}'))
        typs[f'{pkg}/srv/{name}_{suffix}'] = typs.pop(f'{pkg}/msg/{name}_{suffix}')
    info = 'service_msgs/msg/ServiceEventInfo'
    if info not in typestore.types:
        typs[info] = kilted_typestore().fielddefs[info]
    typs[msgtype] = ([], [
        ('info', (Nodetype.NAME, info)),
        ('request', (Nodetype.SEQUENCE, ((Nodetype.NAME, f'{pkg}/srv/{name}_Request'), 1))),
        ('response', (Nodetype.SEQUENCE, ((Nodetype.NAME, f'{pkg}/srv/{name}_Response'), 1))),
    ])
    return typs
