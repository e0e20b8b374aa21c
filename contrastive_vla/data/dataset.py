"""Bags -> training samples: the one data module for simulated and real recordings.

A sample is (image, instruction, primitive class, supervision sentence, episode). It is built
from a bag's topics (names configurable, defaults from config/topics.yaml): each message on the
primitive topic is labelled with the newest image before it and the instruction active at that
time. Episodes whose ``episode`` topic says ``success: false`` are left out by default; bags
without an episode topic (a plain recording) count as successful.

The robot state of a sample is read from the bag's joint_states messages BY NAME (merged in
time order, so an arm driver and a gripper driver publishing separately add up), in the arm
description's order (``robot.description.state_joint_names()``): a real driver's own joint
order never permutes the state. A bag whose joint_states never name one of those joints is
refused with an error naming it (not trained on with a wrong state).

Decoding bags is the slow part, so decoded samples (images already resized to the model's
input size) are cached as one .npz per bag under a cache directory, keyed by the bag's files,
the image size and the vocabulary: epochs after the first, and later runs, do not re-decode.
"""

from dataclasses import dataclass, field
import hashlib
import json
import logging
import mmap
import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from contrastive_vla.core.images import ImageError, compressed_to_rgb, image_to_rgb, resize_square
from contrastive_vla.core.joints import JointStateError, JointStateMerger, MissingJointsError
from contrastive_vla.core.msgfields import stamp_to_ns
from contrastive_vla.core.topics import load_topics
from contrastive_vla.core.vocabulary import PrimitiveVocabulary
from contrastive_vla.core.workers import map_episodes
from contrastive_vla.data.demos import RELABEL_SUFFIX
from contrastive_vla.robot.description import state_joint_names

log = logging.getLogger(__name__)
CACHE_VERSION = 4  # 4: states read by joint name (3 read them in the bag's order)
MAX_STATE = 16  # joint positions kept per sample (zero-padded)


@dataclass
class TopicMap:
    """Bag topic names to read (absolute, as stored in the bag)."""

    image: str = None
    instruction: str = None
    primitive: str = None
    supervision: str = None
    episode: str = None
    joint_states: str = None

    def __post_init__(self):
        defaults = load_topics()
        for key in ('image', 'instruction', 'primitive', 'supervision', 'episode',
                    'joint_states'):
            if getattr(self, key) is None:
                setattr(self, key, defaults[key].bag_name)


@dataclass
class DemoDataset:
    # (M, S, S, 3) uint8 storage (an array, or MappedImages: memory-mapped from the cache),
    # shared by a dataset and its subsets (no copy of the pixels: they are most of the
    # memory); read samples with image_batch
    images: np.ndarray
    labels: np.ndarray                      # (N,) primitive class
    instructions: list                      # (N,) str
    supervisions: list                      # (N,) str or None
    episode_index: np.ndarray               # (N,) index into episodes
    step_index: np.ndarray                  # (N,) step within the episode
    episodes: list = field(default_factory=list)   # bag names
    skipped: list = field(default_factory=list)    # human-readable notes
    states: np.ndarray = None               # (N, MAX_STATE) joint positions (0 if unknown)
    image_rows: np.ndarray = None           # (N,) rows of ``images`` (None: all, in order)

    def __len__(self):
        return len(self.labels)

    def image_batch(self, idx):
        """The images of samples ``idx`` (an index array), (len(idx), S, S, 3) uint8."""
        return self.images[idx if self.image_rows is None else self.image_rows[idx]]

    def subset(self, mask):
        idx = np.flatnonzero(mask)
        rows = idx if self.image_rows is None else self.image_rows[idx]
        return DemoDataset(self.images, self.labels[idx],
                           [self.instructions[i] for i in idx],
                           [self.supervisions[i] for i in idx], self.episode_index[idx],
                           self.step_index[idx], self.episodes, self.skipped,
                           None if self.states is None else self.states[idx], image_rows=rows)

    def split_by_episode(self, val_fraction, seed=0):
        """(train, val): whole episodes held out, so validation measures generalisation.

        A relabelled twin (``collect --relabel``: the same images as its original, another
        instruction) goes to the same side as its original, so no held-out image was trained
        on. Without twins every episode is its own group and the split is a plain permutation
        of the episodes.
        """
        n = len(self.episodes)
        rng = np.random.default_rng(seed)
        n_val = int(round(n * val_fraction)) if n > 1 else 0
        group_of, members = {}, []
        for e, name in enumerate(self.episodes):
            key = episode_group(name)
            if key not in group_of:
                group_of[key] = len(members)
                members.append([])
            members[group_of[key]].append(e)
        val_eps = set()
        for g in rng.permutation(len(members)).tolist():
            if len(val_eps) >= n_val:
                break
            val_eps.update(members[g])
        return self._split(val_eps)

    def split_by_names(self, held_out):
        """(train, val) with exactly the episodes named in ``held_out`` (bag names, e.g. a
        previous run's val_episodes.txt) held out: a fine-tune keeps its source's split, so
        its validation never scores episodes the source was trained on. Names that are not
        in the data are ignored; if none is, ValueError."""
        held_out = set(held_out)
        val_eps = {e for e, name in enumerate(self.episodes) if name in held_out}
        if held_out and not val_eps:
            raise ValueError(f'none of the {len(held_out)} held-out episodes named is in the '
                             'data')
        return self._split(val_eps)

    def _split(self, val_eps):
        """(train, val): the samples of episodes ``val_eps`` (indices) held out."""
        is_val = np.array([e in val_eps for e in self.episode_index], dtype=bool)
        return self.subset(~is_val), self.subset(is_val)


def episode_group(name):
    """The episode a bag was made from: its own name, or a relabelled twin's original."""
    name = str(name)
    return name[:-len(RELABEL_SUFFIX)] if name.endswith(RELABEL_SUFFIX) else name


def read_episode(bag_path, vocab, image_size, topics=None, joint_names=None):
    """Samples of one bag: dict of arrays/lists plus 'success' and 'skipped' notes.

    A sample's state holds the positions of ``joint_names`` (default: the arm description's
    ``state_joint_names()``), in that order, zero-padded to MAX_STATE; all zeros in a bag
    without a joint_states topic. Raises ValueError naming the joint(s) when the bag's
    joint_states never name one of them.
    """
    # deferred: rosbags loads only where bags are read or written
    from contrastive_vla.bag import open_bag

    topics = topics or TopicMap()
    joint_names = list(joint_names or state_joint_names())
    if len(joint_names) > MAX_STATE:
        raise ValueError(f'{len(joint_names)} state joints, at most {MAX_STATE} are kept')
    samples = {'images': [], 'labels': [], 'instructions': [], 'supervisions': [],
               'steps': [], 'states': [], 'stamps': []}
    skipped, success = [], True
    with open_bag(bag_path) as reader:
        present = set(reader.topics)
        missing = [t for t in (topics.image, topics.primitive) if t not in present]
        if missing:
            raise ValueError(f'{bag_path}: missing topic(s) {missing}; the bag has '
                             f'{sorted(present)} (set the topic names if it was recorded '
                             'under other names)')
        if topics.instruction not in present:
            raise ValueError(f'{bag_path}: missing the instruction topic {topics.instruction!r}'
                             f'; the bag has {sorted(present)}')
        wanted = [t for t in (topics.image, topics.instruction, topics.primitive,
                              topics.supervision, topics.episode, topics.joint_states)
                  if t in present]
        image_msg, instruction, supervision = None, None, None
        has_joints = topics.joint_states in present
        joints = JointStateMerger()
        bad_joint_states = []   # why joint_states messages were refused (reported once)
        last_stamp = None
        for m in reader.messages(wanted):
            if last_stamp is not None and m.timestamp_ns < last_stamp:
                skipped.append(f'{bag_path}: time went backwards on {m.topic} '
                               f'({m.timestamp_ns} < {last_stamp}); samples keep bag order')
            last_stamp = m.timestamp_ns
            if m.topic == topics.image:
                image_msg = m
            elif m.topic == topics.instruction:
                instruction = m.msg.data
            elif m.topic == topics.supervision:
                supervision = m.msg.data
            elif m.topic == topics.joint_states:
                try:
                    joints.update_msg(m.msg, m.timestamp_ns)
                except JointStateError as exc:  # the state keeps the last good values
                    bad_joint_states.append(f'{exc} at {m.timestamp_ns} ns')
            elif m.topic == topics.episode:
                try:
                    event = json.loads(m.msg.data)
                except (json.JSONDecodeError, TypeError):
                    continue
                if event.get('event') == 'end':
                    success = bool(event.get('success', True))
            elif m.topic == topics.primitive:
                primitive = vocab.lookup(m.msg.data)
                if primitive is None:
                    skipped.append(f'{bag_path}: primitive {m.msg.data!r} is not in the '
                                   'vocabulary; step skipped')
                    continue
                if image_msg is None or instruction is None:
                    skipped.append(f'{bag_path}: primitive at {m.timestamp_ns} ns has no '
                                   f'{"image" if image_msg is None else "instruction"} before '
                                   'it; step skipped')
                    continue
                state = np.zeros(MAX_STATE, np.float32)
                if has_joints:
                    try:
                        state[:len(joint_names)] = joints.positions(joint_names).positions
                    except MissingJointsError as exc:
                        skipped.append(f'{bag_path}: primitive at {m.timestamp_ns} ns: {exc} '
                                       'before it; step skipped')
                        continue
                try:
                    if image_msg.msgtype.endswith('CompressedImage'):
                        rgb = compressed_to_rgb(image_msg.msg)
                    else:
                        rgb = image_to_rgb(image_msg.msg)
                except ImageError as exc:
                    skipped.append(f'{bag_path}: bad image at {image_msg.timestamp_ns} ns '
                                   f'({exc}); step skipped')
                    continue
                samples['images'].append(resize_square(rgb, image_size))
                stamp = getattr(getattr(image_msg.msg, 'header', None), 'stamp', None)
                samples['stamps'].append(stamp_to_ns(stamp) if stamp else None)  # exact
                samples['labels'].append(primitive.index)
                samples['instructions'].append(instruction)
                samples['supervisions'].append(supervision)
                samples['steps'].append(len(samples['steps']))
                samples['states'].append(state)
                supervision = None
        skipped.extend(reader.skipped)
    if bad_joint_states:
        skipped.append(f'{bag_path}: {len(bad_joint_states)} joint_states message(s) refused '
                       f'(the state keeps the last good values), first: {bad_joint_states[0]}')
    never = joints.missing(joint_names) if has_joints else []
    if never:
        raise ValueError(f'{bag_path}: the joint_states on {topics.joint_states!r} never name '
                         f'joint(s) {", ".join(never)} (they name: '
                         f'{", ".join(joints.names) or "none"}); the robot state would be '
                         'wrong, so the bag is not used (record every joint of the arm '
                         'description, by name, in any order and any number of messages)')
    return samples, success, skipped


def _cache_key(bag, image_size, vocab, topics):
    h = hashlib.sha1()
    for f in sorted(Path(bag).rglob('*')) if Path(bag).is_dir() else [Path(bag)]:
        if f.is_file():
            st = f.stat()
            h.update(f'{f.name}:{st.st_size}:{st.st_mtime_ns}'.encode())
    h.update(f'{CACHE_VERSION}:{image_size}:{vocab.fingerprint()}:{topics}:'
             f'{",".join(state_joint_names())}'.encode())
    return h.hexdigest()[:20]


_DECODE = {}
POOL_MIN_BAGS = 16  # fewer bags than this decode in-process (a worker imports the whole stack)


def _init_decoder(vocab_dict, image_size, topics):
    _DECODE.update(vocab=PrimitiveVocabulary.from_dict(vocab_dict), image_size=image_size,
                   topics=topics)


def _decode_to_cache(job):
    """Decode one bag into its cache file; returns (bag, note when it is unreadable)."""
    bag, cache = job
    try:
        samples, success, notes = read_episode(bag, _DECODE['vocab'], _DECODE['image_size'],
                                               _DECODE['topics'])
    except Exception as exc:  # noqa: BLE001 - a bad bag is reported, not fatal
        return bag, f'{bag}: unreadable, skipped ({type(exc).__name__}: {exc})'
    size = _DECODE['image_size']
    tmp = Path(cache).with_suffix(f'.{os.getpid()}.tmp.npz')  # processes may race (DDP)
    np.savez(tmp, images=np.asarray(samples['images'], dtype=np.uint8).reshape(
        -1, size, size, 3), labels=np.asarray(samples['labels'], np.int64),
        instructions=np.asarray(samples['instructions'], dtype=str),
        supervisions=np.asarray([s or '' for s in samples['supervisions']], dtype=str),
        steps=np.asarray(samples['steps'], np.int64), success=success,
        states=np.asarray(samples['states'], np.float32).reshape(-1, MAX_STATE),
        skipped=np.asarray(notes, dtype=str))
    os.replace(tmp, cache)  # a cache file is complete or absent
    return bag, None


def load_demonstrations(paths, vocab, image_size, topics=None, include_failed=False,
                        cache_dir=None, progress=True, workers=None, in_memory=False):
    """Decode (or load from cache) every bag under ``paths`` into one DemoDataset.

    Bags not in the cache yet are decoded by ``workers`` processes (default: one per core).
    The pixels of all the samples are written once into one .npy file in the cache directory
    (keyed by the bags' cache files, so by the data and the preprocessing) and read from it
    memory-mapped (MappedImages): the memory a run holds does not grow with the data.
    ``in_memory``: read them into one array in RAM instead (the same samples, bit for bit).
    """
    # deferred: rosbags loads only where bags are read or written
    from contrastive_vla.bag import find_bags

    topics = topics or TopicMap()
    bags = find_bags(paths)
    if cache_dir is None:
        first = Path(paths[0])
        cache_dir = (first if first.is_dir() and not (first / 'metadata.yaml').exists()
                     else first.parent) / '.cache'
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    caches = {bag: cache_dir / f'{Path(bag).name}-{_cache_key(bag, image_size, vocab, topics)}'
              '.npz' for bag in bags}
    todo = [(str(bag), str(caches[bag])) for bag in bags if not caches[bag].is_file()]
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    unreadable = dict(map_episodes(_decode_to_cache, todo,
                                   workers if len(todo) >= POOL_MIN_BAGS else 1,
                                   _init_decoder, (vocab.to_dict(), image_size, topics),
                                   'decoding bags', progress))
    parts, part_caches, episodes, skipped = [], [], [], []
    for bag in tqdm(bags, desc='reading bags', unit='bag', disable=not progress,
                    dynamic_ncols=True):
        cache = caches[bag]
        if not cache.is_file():
            skipped.append(unreadable.get(str(bag)) or f'{bag}: could not be decoded')
            continue
        with np.load(cache, allow_pickle=False) as z:  # the pixels come in a second pass
            samples = {'labels': z['labels'],
                       'instructions': list(z['instructions']),
                       'supervisions': [s or None for s in z['supervisions']],
                       'steps': z['steps'], 'states': z['states']}
            success, notes = bool(z['success']), list(z['skipped'])
        skipped.extend(notes)
        if not success and not include_failed:
            skipped.append(f'{bag}: failed episode left out (include_failed=False)')
            continue
        if len(samples['labels']) == 0:
            skipped.append(f'{bag}: no labelled steps')
            continue
        parts.append((len(episodes), samples))
        part_caches.append(cache)
        episodes.append(Path(bag).name)
    if not parts:
        raise ValueError('no usable samples in ' + ', '.join(str(p) for p in paths) +
                         (': ' + '; '.join(skipped[:5]) if skipped else ''))
    counts = [len(s['labels']) for _, s in parts]
    if in_memory:
        images = _images_in_memory(part_caches, counts, image_size)
    else:
        images = MappedImages(_images_file(part_caches, counts, image_size, cache_dir,
                                           progress))
    return DemoDataset(
        images=images,
        labels=np.concatenate([np.asarray(s['labels'], np.int64) for _, s in parts]),
        instructions=[str(i) for _, s in parts for i in s['instructions']],
        supervisions=[s_ for _, s in parts for s_ in s['supervisions']],
        episode_index=np.concatenate([np.full(len(s['labels']), e) for e, s in parts]),
        step_index=np.concatenate([np.asarray(s['steps'], np.int64) for _, s in parts]),
        episodes=episodes, skipped=skipped,
        states=np.concatenate([np.asarray(s['states'], np.float32).reshape(-1, MAX_STATE)
                               for _, s in parts]))


# ---- the pixels of a dataset -------------------------------------------------------------------
IMAGES_VERSION = 1  # of the one-file pixel store (its rows: the bags' cached images, in order)


def _images_in_memory(part_caches, counts, image_size):
    """The pixels of the bags' cache files in one array in RAM, filled bag by bag (the peak
    memory is the pixels once, not twice)."""
    images = np.empty((sum(counts), image_size, image_size, 3), np.uint8)
    row = 0
    for cache, n in zip(part_caches, counts):
        with np.load(cache, allow_pickle=False) as z:
            images[row:row + n] = np.asarray(z['images'], np.uint8).reshape(
                n, image_size, image_size, 3)
        row += n
    return images


def _images_file(part_caches, counts, image_size, cache_dir, progress=False):
    """The .npy file holding the pixels of the bags' cache files, in order (written once:
    its name is a hash of theirs, which are keyed by the bags and the preprocessing)."""
    h = hashlib.sha1(f'{IMAGES_VERSION}:{image_size}:'.encode())
    for cache in part_caches:
        h.update(f'{Path(cache).name}\n'.encode())
    path = Path(cache_dir) / f'images-{sum(counts)}x{image_size}-{h.hexdigest()[:20]}.npy'
    if path.is_file():
        return path
    tmp = path.with_name(f'{path.name}.{os.getpid()}.tmp')
    header = {'descr': np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
              'fortran_order': False, 'shape': (sum(counts), image_size, image_size, 3)}
    try:
        with open(tmp, 'wb') as f:
            np.lib.format.write_array_header_1_0(f, header)
            for cache, n in tqdm(list(zip(part_caches, counts)), desc='image store', unit='bag',
                                 disable=not progress, dynamic_ncols=True):
                with np.load(cache, allow_pickle=False) as z:
                    pixels = np.asarray(z['images'], np.uint8)
                if pixels.size != n * image_size * image_size * 3:
                    raise ValueError(f'{cache}: {pixels.size} pixel values for {n} samples of '
                                     f'{image_size} px; delete the cache directory {cache_dir}')
                f.write(pixels.tobytes())
        os.replace(tmp, path)  # complete or absent
    finally:
        tmp.unlink(missing_ok=True)
    return path


class MappedImages:
    """The (M, S, S, 3) uint8 pixels of a dataset in an .npy file, memory-mapped read-only.

    Indexed like an array (``images[rows]`` is an in-memory copy of those rows). Every
    ``release_bytes`` read, the mapped pages are handed back (madvise DONTNEED: they stay in
    the kernel's page cache, outside this process's resident memory), so a pass over the data
    does not grow the process to the file's size (the kernel maps neighbouring pages with each
    row read, about three times the bytes asked for, so the mapping holds ~100 MB at most).
    """

    def __init__(self, path, release_bytes=32 << 20):
        self.path = Path(path)
        self.release_bytes = release_bytes
        self._read = 0
        with open(self.path, 'rb') as f:
            if np.lib.format.read_magic(f) != (1, 0):
                raise ValueError(f'{self.path}: not an image store of this version; delete it')
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            if fortran or dtype != np.uint8 or len(shape) != 4:
                raise ValueError(f'{self.path}: not an image store (uint8, (N, S, S, 3))')
            offset = f.tell()
            self._mmap = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self.array = np.frombuffer(self._mmap, np.uint8, count=int(np.prod(shape)),
                                   offset=offset).reshape(shape)

    shape = property(lambda self: self.array.shape)
    dtype = property(lambda self: self.array.dtype)

    def __len__(self):
        return len(self.array)

    def __getitem__(self, key):
        out = self.array[key]
        if not out.flags.owndata:  # a copy: nothing keeps pointing into the mapping
            out = out.copy()
        self._read += out.nbytes
        if self._read >= self.release_bytes:
            self.release()
        return out

    def __array__(self, dtype=None, copy=None):
        return np.array(self.array, dtype=dtype)

    def release(self):
        """Hand the mapped pages back to the kernel (they are read again when needed)."""
        self._read = 0
        if hasattr(mmap, 'MADV_DONTNEED'):
            self._mmap.madvise(mmap.MADV_DONTNEED)
