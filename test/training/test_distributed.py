"""``torchrun --nproc_per_node 2`` (gloo on CPU) trains the weights one process trains with the
same batch: the epoch order, the augmentation, the instruction noise and the primitive texts
are drawn for the whole batch on every process, each computes its share, and the gradients are
averaged."""

import json
import os
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest
from safetensors.torch import load_file
import torch

from contrastive_vla.cli import main
from contrastive_vla.data.dataset import load_demonstrations
from contrastive_vla.model.policy import ClipRTPolicy, load_model
from contrastive_vla.model.preprocess import images_to_tensor

TORCHRUN = Path(sys.executable).parent / 'torchrun'
# parameters whose gradient is zero in exact arithmetic (the key bias of attention: softmax
# ignores a shift; a first convolution's bias, which the normalisation after it removes): AdamW
# scales their float-rounding noise to steps of the learning rate, in one process as in two,
# so they differ between the runs without changing what the model computes (checked below)
NULL_GRADIENT = {'text.transformer.resblocks.0.attn.in_proj_bias', 'visual.convs.0.bias'}
ARGS = ['train', '--config', 'clip_rt_tiny', '--epochs', '2', '--batch-size', '12',
        '--lr', '3e-3', '--warmup-steps', '2', '--instruction-noise', '0.5',
        '--eval-tasks', 'none', '--threads', '1', '--no-progress',
        # a curriculum phase first: its batches too are the same on both processes
        '--curriculum-tasks', 'reach_block', '--curriculum-steps', '2']


def _scores(checkpoint, bags):
    """The model's (N, vocabulary) scores of every sample of ``bags``."""
    model, vocab, _ = load_model(checkpoint)
    data = load_demonstrations([bags], vocab, model.cfg.image_size, progress=False)
    prompts = sorted(set(data.instructions))
    tokens = model.tokenize([model.cfg.format_prompt(p) for p in prompts])
    index = torch.tensor([prompts.index(i) for i in data.instructions])
    with torch.no_grad():
        instruction = model.encode_instruction(tokens).select(index)
        context = model.encode_context(images_to_tensor(data.image_batch(np.arange(len(data)))),
                                       instruction, None)
        primitives = ClipRTPolicy(model, vocab, use_cache=False).primitive_embeddings()
        return model.scores(context, primitives)


@pytest.mark.skipif(not TORCHRUN.is_file(), reason='torchrun is not installed beside python')
def test_two_processes_train_the_weights_of_one(bags, tmp_path):
    # two processes first: rank 0 decodes the bags into the cache while rank 1 waits
    env = dict(os.environ, OMP_NUM_THREADS='1')
    done = subprocess.run([str(TORCHRUN), '--standalone', '--nproc_per_node', '2', '-m',
                           'contrastive_vla.cli', *ARGS, '--data', str(bags),
                           '--out', str(tmp_path / 'two')],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    # the log says where the steps ran (OMP_NUM_THREADS=1 is torch's thread count here)
    assert 'parameters; on cpu (1 thread), 2 processes' in done.stderr
    assert main([*ARGS, '--data', str(bags), '--out', str(tmp_path / 'one')]) == 0
    one = load_file(str(tmp_path / 'one' / 'last' / 'model.safetensors'))
    two = load_file(str(tmp_path / 'two' / 'last' / 'model.safetensors'))
    assert one.keys() == two.keys()
    for name in one:
        if name in NULL_GRADIENT:
            continue
        torch.testing.assert_close(two[name], one[name], rtol=1e-4, atol=1e-5, msg=name)
    # and the two compute the same scores
    scores = [_scores(tmp_path / run / 'last', bags) for run in ('one', 'two')]
    torch.testing.assert_close(scores[1], scores[0], rtol=1e-4, atol=1e-4)
    rows = [[json.loads(line) for line in (tmp_path / run / 'metrics.jsonl').read_text()
             .splitlines()] for run in ('one', 'two')]
    assert [r['step'] for r in rows[0]] == [r['step'] for r in rows[1]]
    assert rows[0][-1]['step'] >= 6  # the test trains several steps on the same batches
    for a, b in zip(*rows):
        assert b['loss'] == pytest.approx(a['loss'], rel=1e-4)
    # rank 0 alone writes the run
    assert sorted(p.name for p in (tmp_path / 'two').iterdir()) == \
        sorted(p.name for p in (tmp_path / 'one').iterdir())
