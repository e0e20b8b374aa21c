"""Inputs of the model: images to normalised tensors, instructions to prompt tokens.

Kept out of the network so the ROS node, the trainer and the evaluators prepare inputs the same
way, and so bad inputs are rejected here with a message that says what is wrong.
"""

import functools
import unicodedata

import cv2
import numpy as np
import torch

from contrastive_vla import compat

# CLIP's normalisation (open_clip OPENAI_DATASET_MEAN / STD).
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


class InputError(ValueError):
    """An image or instruction the model cannot take."""


def check_image(image):
    """Validate an (H, W, 3) uint8 RGB array; returns it contiguous."""
    if not isinstance(image, np.ndarray):
        raise InputError(f'image must be a numpy array, got {type(image).__name__}')
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f'image must be H x W x 3 (RGB), got shape {image.shape}; convert '
                         'mono/RGBA/BGR first (contrastive_vla.data.images)')
    if image.dtype != np.uint8:
        raise InputError(f'image must be uint8, got {image.dtype}')
    if image.shape[0] < 8 or image.shape[1] < 8:
        raise InputError(f'image is too small: {image.shape[1]}x{image.shape[0]}')
    return np.ascontiguousarray(image)


def resize_square(image, size):
    """Centre-crop to a square, then resize to size x size (INTER_AREA)."""
    h, w = image.shape[:2]
    if h != w:
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        image = image[top:top + side, left:left + side]
    if image.shape[0] != size:
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


def images_to_tensor(images):
    """(B, S, S, 3) uint8 -> (B, 3, S, S) float32 normalised."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    x = (x - torch.from_numpy(MEAN)) / torch.from_numpy(STD)
    return x.permute(0, 3, 1, 2).contiguous()


def clean_instruction(text, max_chars=300):
    """Validate and normalise an instruction (what the listener node also enforces)."""
    if isinstance(text, bytes):
        try:
            text = text.decode('utf-8')
        except UnicodeDecodeError:
            raise InputError('instruction is not valid UTF-8') from None
    if not isinstance(text, str):
        raise InputError(f'instruction must be text, got {type(text).__name__}')
    if any(unicodedata.category(ch) == 'Cc' and ch not in '\t\n\r' for ch in text):
        raise InputError('instruction contains control characters')
    text = ' '.join(text.split())
    if not text:
        raise InputError('instruction is empty')
    if len(text) > max_chars:
        raise InputError(f'instruction is {len(text)} characters long; the limit is '
                         f'{max_chars}')
    return text


@functools.lru_cache(maxsize=8)
def get_tokenizer(context_length):
    compat.ensure_torchvision_importable()
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer(context_length=context_length)


def tokenize(texts, context_length):
    return get_tokenizer(context_length)(list(texts))
