#!/usr/bin/env python3
"""Peak resident memory of the training data path against the number of samples.

For each sample count, a fresh process loads the pixels (from the per-bag cache files that
``load_demonstrations`` writes) either into one array in RAM (``--images-in-memory``, the old
path) or as the memory-mapped image store (the default), then reads one epoch of shuffled
batches of 64 as the trainer does (``image_batch`` + ``images_to_tensor``), and reports its
peak RSS (``ru_maxrss``) and the batch throughput. Nothing else of training is run, so the
figures are the data's share; a training process adds the model and the optimizer to them.

``--synthetic``: the per-bag cache files are made up (random pixels at ``--image-size``, 11
samples per bag as in the suite's data), clearly not demonstrations; ``--data DIR``: the real
cache files of DIR/.cache (written by a ``train`` or ``load_demonstrations`` on DIR first).

    python scripts/measure_data_memory.py --synthetic 5000 20000 50000 136695 \\
        --work /tmp/rss --paths mapped memory [--train-steps 40]
"""

import argparse
import json
from pathlib import Path
import resource
import subprocess
import sys
import time

import numpy as np

SAMPLES_PER_BAG = 11  # the suite's data: 136,695 samples from 12,059 bags


def make_synthetic(directory, samples, image_size):
    """Per-bag cache files (the format of data.dataset) holding ``samples`` made-up samples."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    block = rng.integers(0, 256, (SAMPLES_PER_BAG, image_size, image_size, 3), np.uint8)
    files = []
    for b in range(-(-samples // SAMPLES_PER_BAG)):
        n = min(SAMPLES_PER_BAG, samples - b * SAMPLES_PER_BAG)
        path = directory / f'synthetic_{b:06d}.npz'
        if not path.is_file():
            np.savez(path, images=np.roll(block[:n], b, axis=1), labels=np.zeros(n, np.int64))
        files.append(path)
    return files


def train_steps(data, steps, batch=64):
    """``steps`` optimizer steps of clip_rt_small_tokens (instruction noise on) on ``data``
    with made-up labels, instructions and states; samples/s."""
    import torch

    from contrastive_vla.core.vocabulary import PrimitiveVocabulary
    from contrastive_vla.model.clip_rt import ClipRT
    from contrastive_vla.model.config import ModelConfig
    from contrastive_vla.training.config import TrainingConfig
    from contrastive_vla.training.train import Trainer

    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng, n, vocab = np.random.default_rng(0), len(data), PrimitiveVocabulary.load()
    data.labels = rng.integers(0, len(vocab), n)
    data.instructions = [f'reach the {c} block' for c in rng.choice(['red', 'blue', 'green'], n)]
    data.supervisions = [None] * n
    data.states = rng.normal(size=(n, 16)).astype(np.float32)
    model = ClipRT(ModelConfig.load('clip_rt_small_tokens'))
    config = TrainingConfig(data=['synthetic'], out='/tmp/unused', batch_size=batch,
                            instruction_noise=0.5, eval_tasks='none', progress=False)
    trainer = Trainer(model, vocab, data, data.subset(np.zeros(n, bool)), config)
    order, start = rng.permutation(n), time.perf_counter()
    for b in range(steps):
        loss, _ = trainer.loss(trainer.batches.make(order[b * batch:(b + 1) * batch], data))
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
    return round(steps * batch / (time.perf_counter() - start), 1)


def measure(files, image_size, path, store_dir, epochs=1, batch=64, steps=0):
    """Run in a fresh process: load the pixels one way, (train ``steps`` steps,) read
    ``epochs`` of batches."""
    from contrastive_vla.data import dataset
    from contrastive_vla.model.preprocess import images_to_tensor

    counts = []
    for f in files:
        with np.load(f) as z:
            counts.append(len(z['labels']))
    start = time.perf_counter()
    if path == 'memory':
        images = dataset._images_in_memory(files, counts, image_size)
    else:
        images = dataset.MappedImages(dataset._images_file(files, counts, image_size,
                                                           store_dir))
    loaded = time.perf_counter() - start
    data = dataset.DemoDataset(images=images, labels=np.zeros(sum(counts), np.int64),
                               instructions=[], supervisions=[],
                               episode_index=np.zeros(sum(counts), np.int64),
                               step_index=np.zeros(sum(counts), np.int64))
    trained = train_steps(data, steps, batch) if steps else None
    start, rows = time.perf_counter(), 0
    for epoch in range(epochs):
        order = np.random.default_rng(epoch).permutation(len(data))
        for b in range(len(data) // batch):
            x = images_to_tensor(data.image_batch(order[b * batch:(b + 1) * batch]))
            rows += len(x)
    read = time.perf_counter() - start
    return {'path': path, 'samples': len(data), 'image_size': image_size,
            'pixels_gb': round(sum(counts) * image_size * image_size * 3 / 1e9, 2),
            'peak_rss_gb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
            'load_s': round(loaded, 1), 'batches_samples_per_s': round(rows / read),
            **({'train_steps': steps, 'train_samples_per_s': trained} if steps else {})}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--synthetic', type=int, nargs='*', default=[],
                        help='sample counts of made-up data')
    parser.add_argument('--data', help='a directory of bags already loaded once (its .cache)')
    parser.add_argument('--image-size', type=int, default=128)
    parser.add_argument('--work', default='/tmp/rss', help='where synthetic files go')
    parser.add_argument('--paths', nargs='+', default=['mapped', 'memory'],
                        choices=('mapped', 'memory'))
    parser.add_argument('--max-memory-samples', type=int, default=60000,
                        help='skip the in-RAM path above this many samples')
    parser.add_argument('--train-steps', type=int, default=0,
                        help='first train clip_rt_small_tokens this many steps on the data '
                             '(the training process: model and optimizer beside the data)')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job = json.loads(Path(args.child).read_text())
        print(json.dumps(measure([Path(f) for f in job['files']], job['image_size'],
                                 job['path'], Path(job['store']), steps=job['steps'])))
        return
    runs = []
    if args.synthetic:  # the smaller counts read the first of the largest's files
        files = make_synthetic(Path(args.work) / 'bags', max(args.synthetic), args.image_size)
    for n in args.synthetic:
        runs.append((f'synthetic {n}', files[:-(-n // SAMPLES_PER_BAG)], args.image_size))
    if args.data:
        cache = Path(args.data) / '.cache'
        files = sorted(p for p in cache.glob('*.npz') if '.tmp' not in p.name)
        with np.load(files[0]) as z:
            size = z['images'].shape[1]
        runs.append((f'{args.data} ({len(files)} bags)', files, size))
    for name, files, size in runs:
        for path in args.paths:
            if path == 'memory' and len(files) * SAMPLES_PER_BAG > args.max_memory_samples \
                    and name.startswith('synthetic'):
                continue
            job = {'files': [str(f) for f in files], 'image_size': size, 'path': path,
                   'store': str(Path(args.work) / 'store'), 'steps': args.train_steps}
            Path(job['store']).mkdir(parents=True, exist_ok=True)
            job_file = Path(args.work) / 'job.json'
            job_file.write_text(json.dumps(job))
            done = subprocess.run([sys.executable, __file__, '--child', str(job_file)],
                                  capture_output=True, text=True, check=True)
            print(json.dumps({'data': name, **json.loads(done.stdout.splitlines()[-1])}),
                  flush=True)


if __name__ == '__main__':
    main()
