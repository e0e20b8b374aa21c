"""``contrastive-vla doctor``: check the installation (imports, rendering, data files)."""

import importlib
import time

from contrastive_vla.core.resources import share_dir
from contrastive_vla.core.vocabulary import PrimitiveVocabulary

MODULES = ['numpy', 'yaml', 'cv2', 'torch', 'open_clip', 'mujoco', 'rosbags', 'rclpy',
           'sensor_msgs.msg', 'std_msgs.msg', 'trajectory_msgs.msg', 'geometry_msgs.msg']


def add_arguments(parser):
    parser.add_argument('--no-render', action='store_true', help='skip the rendering check')
    parser.add_argument('--model', default='clip_rt_default',
                        help="a model to load (directory or name in models/; '' skips it): "
                             'its weights, vocabulary and any pretrained text tower it needs')


def run(args):
    failures = 0
    print(f'share directory: {share_dir()}')
    vocab = PrimitiveVocabulary.load()
    print(f'vocabulary: {len(vocab)} primitives from {vocab.source}')
    for name in MODULES:
        start = time.perf_counter()
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - report every failure, keep checking
            failures += 1
            print(f'  FAIL import {name}: {type(exc).__name__}: {exc}')
            continue
        version = getattr(module, '__version__', '')
        print(f'  ok   import {name} {version} ({(time.perf_counter() - start) * 1e3:.0f} ms)')
    if not args.no_render:
        failures += _check_render()
    if args.model:
        failures += _check_model(args.model)
    print('all checks passed' if failures == 0 else f'{failures} check(s) failed')
    return 0 if failures == 0 else 1


def _check_render():
    try:
        # deferred: a command imports its rooms when it runs, so --help stays fast
        from contrastive_vla.sim.rendering import render_probe
    except ImportError:
        print('  skip rendering check: the simulator is not part of this installation')
        return 0
    try:
        backend, ms = render_probe()
    except Exception as exc:  # noqa: BLE001
        print(f'  FAIL render: {type(exc).__name__}: {exc}')
        return 1
    print(f'  ok   render 224x224 with MUJOCO_GL={backend} in {ms:.1f} ms')
    return 0


def _check_model(name):
    start = time.perf_counter()
    try:
        from contrastive_vla.model.policy import load_model
        model, vocab, _meta = load_model(name)
    except Exception as exc:  # noqa: BLE001 - a missing wheel or a corrupt file, said in one line
        print(f'  FAIL model {name}: {type(exc).__name__}: {exc}')
        return 1
    total = sum(p.numel() for p in model.parameters())
    frozen = model.frozen_text_weights()
    pretrained = f', with the pretrained {frozen[0]} text weights' if frozen else ''
    print(f'  ok   model {name}: {model.cfg.name}, {total / 1e6:.2f}M parameters{pretrained}, '
          f'{len(vocab)} primitives ({(time.perf_counter() - start) * 1e3:.0f} ms)')
    return 0
