"""The CLIP-RT network: a text tower scores primitive phrases against an image+instruction context.

Shapes: images (B, 3, S, S) float, normalised (see preprocess.py); tokens (N, L) int64;
embeddings (., E) with E = config.embed_dim. The text tower is open_clip's TextTransformer
(built from the JSON config, or an open_clip model's text config); the image tower is either a
small CNN with coordinate channels and FiLM conditioning on the instruction (learns from
scratch on a CPU in minutes) or an open_clip vision tower (ViT-B-32, ViT-H-14-378-quickgelu).

Context and scores are computed by the same functions in training and inference (the paper's
code trained on the un-normalised context sum and normalised it only at inference).
"""

import math
from typing import NamedTuple

import torch
from torch import nn
import torch.nn.functional as F

from contrastive_vla.model import compat
from contrastive_vla.model.config import ModelConfig
from contrastive_vla.model.preprocess import tokenize
from contrastive_vla.model.sentence_encoder import weights_sha256

# Per-axis scale of the regression baseline's targets: translations in units of 20 cm,
# rotations in units of 90 degrees, gripper command as is.
DELTA_SCALE = torch.tensor([0.2, 0.2, 0.2, math.pi / 2, math.pi / 2, math.pi / 2, math.pi / 2,
                            1.0])


def _open_clip():
    compat.ensure_torchvision_importable()
    # deferred: open_clip (and torchvision) load only for the models that use them
    import open_clip

    return open_clip


class SpatialSoftmax(nn.Module):
    """Per-channel soft-argmax: (B, C, H, W) features -> (B, 2C) expected (x, y) in [-1, 1].

    The keypoints of Levine et al. (2016): a channel that fires on "the red block" or "the
    fingertips" becomes that thing's image position, sub-pixel and independent of where in the
    image it is, which a flattened feature map has to learn position by position.
    """

    def __init__(self):
        super().__init__()
        self.log_temperature = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        b, c, h, w = x.shape
        weights = F.softmax(x.flatten(2) / self.log_temperature.exp(), dim=-1)  # (B, C, HW)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, h, device=x.device),
                                torch.linspace(-1, 1, w, device=x.device), indexing='ij')
        grid = torch.stack([xs.flatten(), ys.flatten()], dim=-1).to(x.dtype)  # (HW, 2)
        return (weights @ grid).flatten(1)


class FiLMCNN(nn.Module):
    """Strided 3x3 conv blocks over RGB + 2 coordinate channels, each block FiLM-modulated.

    FiLM (gamma, beta per channel) comes from the instruction embedding, so the instruction
    decides which image features matter *before* pooling: the fusion the additive context
    cannot express. With ``film=False`` it is a plain CNN (for the additive / late fusions).

    ``convs_per_stage`` adds stride-1 3x3 convs after each strided one (more depth at the same
    resolution); ``pool`` turns the last feature map into a vector: ``'flatten'`` (every
    position has its own weights) or ``'spatial_softmax'`` (keypoints plus the channel means).
    """

    def __init__(self, channels, embed_dim, image_size, cond_dim, film=True, state_dim=0,
                 convs_per_stage=1, pool='flatten'):
        super().__init__()
        self.film = film
        self.state_dim = state_dim
        self.pool = pool
        self.convs, self.norms, self.films = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        self.inner = nn.ModuleList()  # the stride-1 convs of each stage (convs_per_stage > 1)
        in_ch = 5
        for ch in channels:
            self.convs.append(nn.Conv2d(in_ch, ch, 3, stride=2, padding=1))
            inner = []
            for _ in range(convs_per_stage - 1):
                inner += [nn.GroupNorm(min(8, ch), ch), nn.ReLU(),
                          nn.Conv2d(ch, ch, 3, padding=1)]
            self.inner.append(nn.Sequential(*inner))
            self.norms.append(nn.GroupNorm(min(8, ch), ch))
            if film:
                layer = nn.Linear(cond_dim, 2 * ch)
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
                self.films.append(layer)
            in_ch = ch
        if pool == 'spatial_softmax':
            self.keypoints = SpatialSoftmax()
            flat = 3 * in_ch
        else:
            side = image_size
            for _ in channels:
                side = (side + 1) // 2
            flat = in_ch * side * side
        self.state_to_cond = None
        if state_dim and film:
            # proprioception joins the FiLM condition: the robot state modulates every block
            # as the instruction does ("close" only where the image shows the gripper low and
            # the state says it is open). The last layer starts at zero, so a model warm-started
            # from one trained without state computes the same function at first.
            self.state_to_cond = nn.Sequential(nn.Linear(state_dim, 64), nn.ReLU(),
                                               nn.Linear(64, cond_dim))
            nn.init.zeros_(self.state_to_cond[2].weight)
            nn.init.zeros_(self.state_to_cond[2].bias)
        elif state_dim:
            # without FiLM, the state joins the pooled image features before a small MLP
            self.state_net = nn.Sequential(nn.Linear(state_dim, 64), nn.ReLU())
            flat += 64
        if (state_dim and not film) or pool == 'spatial_softmax':
            self.out = nn.Sequential(nn.Linear(flat, 2 * embed_dim), nn.ReLU(),
                                     nn.Linear(2 * embed_dim, embed_dim))
        else:
            self.out = nn.Linear(flat, embed_dim)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, image_size),
                                torch.linspace(-1, 1, image_size), indexing='ij')
        self.register_buffer('coords', torch.stack([xs, ys])[None], persistent=False)

    def forward(self, images, cond=None, state=None):
        x = torch.cat([images, self.coords.expand(images.shape[0], -1, -1, -1)], dim=1)
        if self.state_to_cond is not None:
            cond = cond + self.state_to_cond(state)
        for i, (conv, inner, norm) in enumerate(zip(self.convs, self.inner, self.norms)):
            x = norm(inner(conv(x)))
            if self.film:
                gamma, beta = self.films[i](cond).chunk(2, dim=-1)
                x = x * (1 + gamma[..., None, None]) + beta[..., None, None]
            x = F.relu(x)
        if self.pool == 'spatial_softmax':
            x = torch.cat([self.keypoints(x), x.mean(dim=(2, 3))], dim=1)
        else:
            x = x.flatten(1)
        if self.state_dim and not self.film:
            x = torch.cat([x, self.state_net(state)], dim=1)
        return self.out(x)


def _text_config(cfg):
    open_clip = _open_clip()
    text = dict(cfg.text)
    kind = text.pop('type')
    if kind != 'open_clip':
        raise ValueError(f'unsupported text tower {kind!r}')
    model_name = text.pop('model', None)
    quick_gelu = False
    if model_name:
        base = open_clip.get_model_config(model_name)
        if base is None:
            raise ValueError(f'open_clip has no model config {model_name!r}')
        quick_gelu = bool(base.get('quick_gelu', False))
        text = {**base['text_cfg'], **text}
    return open_clip.model.CLIPTextCfg(**text), quick_gelu


class Instruction(NamedTuple):
    """An encoded instruction prompt, what ``ClipRT.encode_context`` conditions on."""

    pooled: torch.Tensor            # (U, E) sentence embeddings
    tokens: torch.Tensor = None     # (U, L, 2W) token outputs and input embeddings (token
    #                                 attention only)
    padding: torch.Tensor = None    # (U, L) True at padding positions

    def select(self, index):
        """The rows ``index`` (e.g. one per sample of a batch from the unique prompts)."""
        return Instruction(*(None if t is None else t[index] for t in self))


class TokenAttention(nn.Module):
    """Attention from (instruction embedding, robot state) over the instruction's tokens.

    A pooled sentence embedding that a text tower learned from scratch keeps the words the
    early training needed and can drop the rest (measured: our first default mapped "stack the
    red block on the blue block" and "... on the green block" to the same vector, so it never
    knew where to carry a block). Here the query comes from the sentence and the robot state
    together, so the state can pick the word that matters now (the block while fetching, the
    zone while carrying): token-level fusion as CLIP-RT+ does it. Each token is its text-tower
    output (context: which word of the sentence it is) beside its input embedding (identity:
    trained with attention over the outputs alone, the tower shrank "blue" vs "green" at the
    zone's position from 3.0 to 0.1 in two epochs, norm ~11). The
    result is added to the FiLM condition; its last layer starts at zero, so a model
    warm-started from one without it computes the same function at first.
    """

    def __init__(self, token_dim, width, cond_dim, state_dim=0, heads=4):
        super().__init__()
        if width % heads:
            raise ValueError(f'attention width {width} is not divisible by {heads} heads')
        self.heads = heads
        self.query = nn.Sequential(nn.Linear(cond_dim + state_dim, width), nn.ReLU(),
                                   nn.Linear(width, width))
        self.key_proj = nn.Linear(token_dim, width)
        self.value_proj = nn.Linear(token_dim, width)
        self.out = nn.Linear(width, cond_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, sentence, tokens, padding, state=None):
        b, length, _ = tokens.shape
        width = self.out.in_features
        h, d = self.heads, width // self.heads
        query = self.query(sentence if state is None else torch.cat([sentence, state], dim=-1))
        q = query.view(b, h, 1, d)
        k = self.key_proj(tokens).view(b, length, h, d).transpose(1, 2)
        v = self.value_proj(tokens).view(b, length, h, d).transpose(1, 2)
        keep = ~padding[:, None, None, :]  # (B, 1, 1, L); the start token is never padding
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        return self.out(attended.reshape(b, width))


class ClipRT(nn.Module):
    """CLIP-RT with a selectable fusion ('film', 'additive', 'late_mlp') and head."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        open_clip = _open_clip()
        self.cfg = cfg
        e = cfg.embed_dim
        if cfg.text['type'] == 'sentence_encoder':
            # deferred: the model room imports torch, which this path alone needs
            from contrastive_vla.model.sentence_encoder import SentenceEncoderText

            self.context_length = cfg.text.get('context_length', 64)
            self.text = SentenceEncoderText(e, cfg.text.get('model', 'all-MiniLM-L6-v2'))
        else:
            text_cfg, quick_gelu = _text_config(cfg)
            self.context_length = text_cfg.context_length
            self.text = open_clip.model._build_text_tower(e, text_cfg, quick_gelu=quick_gelu)
        self.token_attention = None
        if cfg.token_attention:
            self.text.output_tokens = True
            width = self.text.width
            self.token_attention = TokenAttention(2 * width, width, e, cfg.state_dim)
        vision = dict(cfg.vision)
        if vision.pop('type') == 'film_cnn':
            self.visual = FiLMCNN(vision.get('channels', [32, 64, 96, 128]), e, cfg.image_size,
                                  cond_dim=e, film=cfg.fusion == 'film',
                                  state_dim=cfg.state_dim,
                                  convs_per_stage=vision.get('convs_per_stage', 1),
                                  pool=vision.get('pool', 'flatten'))
        else:
            base = open_clip.get_model_config(vision['model'])
            if base is None:
                raise ValueError(f'open_clip has no model config {vision["model"]!r}')
            vcfg = dict(base['vision_cfg'], image_size=cfg.image_size)
            self.visual = open_clip.model._build_vision_tower(
                e, open_clip.model.CLIPVisionCfg(**vcfg),
                quick_gelu=bool(base.get('quick_gelu', False)))
        if cfg.fusion == 'late_mlp':
            extra = cfg.state_dim if not isinstance(self.visual, FiLMCNN) else 0
            self.fuse = nn.Sequential(nn.Linear(2 * e + extra, 2 * e), nn.GELU(),
                                      nn.Linear(2 * e, e))
        # normalisation of the proprioceptive state, set from the training data and saved with
        # the weights (nobody copies statistics by hand)
        self.register_buffer('state_mean', torch.zeros(cfg.state_dim))
        self.register_buffer('state_std', torch.ones(cfg.state_dim))
        self.logit_scale = nn.Parameter(torch.tensor(float(cfg.init_logit_scale)))
        # only used by the multi-label BCE loss (SigLIP-style bias: most pairs are negatives)
        self.logit_bias = nn.Parameter(torch.tensor(-5.0))
        if cfg.head == 'regress':
            self.regressor = nn.Sequential(nn.Linear(e, e), nn.GELU(), nn.Linear(e, 8))

    def forward(self, images, instruction_tokens, instruction_index, text_tokens=None,
                state=None):
        """One training forward (what DDP wraps): unique instruction prompts are encoded once.

        images (B, 3, S, S); instruction_tokens (U, L) unique prompts; instruction_index (B,)
        into them; text_tokens (T, L) candidate primitive texts or None. Returns
        (context (B, E) unit, text embeddings (T, E) or None).
        """
        instr = self.encode_instruction(instruction_tokens).select(instruction_index)
        context = self.encode_context(images, instr, state)
        text = self.encode_text(text_tokens) if text_tokens is not None else None
        return context, text

    def tokenize(self, texts):
        """Texts -> (N, L) token ids for this model's text tower."""
        if self.cfg.text['type'] == 'sentence_encoder':
            # deferred: the model room imports torch, which this path alone needs
            from contrastive_vla.model import sentence_encoder

            return sentence_encoder.tokenize(texts, self.text.name, self.context_length)
        return tokenize(texts, self.context_length)

    def frozen_text_weights(self):
        """(name, SHA-256) of the pretrained text weights kept out of our checkpoints, or None."""
        if self.cfg.text['type'] != 'sentence_encoder':
            return None

        return self.text.name, weights_sha256(self.text.name)

    def encode_text(self, tokens):
        """(N, L) tokens -> (N, E) un-normalised text embeddings."""
        out = self.text(tokens)
        return out[0] if self.token_attention is not None else out

    def encode_instruction(self, tokens):
        """(U, L) prompt tokens -> Instruction (with token features for token attention)."""
        if self.token_attention is None:
            return Instruction(self.text(tokens))
        pooled, features = self.text(tokens)
        identity = self.text.token_embedding(tokens)
        return Instruction(pooled, torch.cat([features, identity], dim=-1), tokens == 0)

    def encode_context(self, images, instruction, state=None):
        """(B, 3, S, S) images + the Instruction of each sample (or (B, E) instruction
        embeddings) (+ (B, state_dim) joint positions when the config uses proprioception)
        -> (B, E) unit context."""
        if not isinstance(instruction, Instruction):
            instruction = Instruction(instruction)
        instr = F.normalize(instruction.pooled, dim=-1)
        if self.cfg.state_dim:
            if state is None:
                raise ValueError(f'model {self.cfg.name!r} needs the robot state '
                                 f'({self.cfg.state_dim} joint positions)')
            state = (state - self.state_mean) / self.state_std
        if self.token_attention is not None:
            if instruction.tokens is None:
                raise ValueError(f"model {self.cfg.name!r} attends over the instruction's "
                                 'tokens: pass the Instruction from encode_instruction')
            instr = instr + self.token_attention(instr, instruction.tokens,
                                                 instruction.padding, state)
        cnn = isinstance(self.visual, FiLMCNN)
        if self.cfg.fusion == 'film':
            context = self.visual(images, instr, state)
        else:
            image = self.visual(images, None, state) if cnn else self.visual(images)
            image = F.normalize(image, dim=-1)
            if self.cfg.fusion == 'additive':
                context = image + instr
            else:
                parts = [image, instr] + ([state] if self.cfg.state_dim and not cnn else [])
                context = self.fuse(torch.cat(parts, dim=-1))
        return F.normalize(context, dim=-1)

    def scores(self, context, primitive_embeddings):
        """(B, E) unit context x (N, E) primitive text embeddings -> (B, N) logits."""
        return self.logit_scale.exp().clamp(max=100) * context @ F.normalize(
            primitive_embeddings, dim=-1).T

    def regress(self, context):
        """(B, E) context -> (B, 8) normalised delta (multiply by DELTA_SCALE for SI units)."""
        return self.regressor(context)
