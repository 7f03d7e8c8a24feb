"""The cheap attacks an attacker tries first, each with an exact null (a random cipher):

- :func:`known_plaintext` — keystream reuse. Given one plain/cipher pair under the key, the
  attacker reads a keystream off it (XOR or modular difference) and applies it elsewhere: to the
  other images (the same pad for every image), to the other rows, columns or 8×8 blocks of each
  image (a pad repeated inside an image; the attacker knows the first row, column or block of
  every image). Scored as the share of recovered plaintext bits: for a random cipher each
  guessed bit is right with probability 1/2, exactly, whatever the images.
- :func:`distinguishing_game` — IND-CPA style: two known images, one of them encrypted at a
  fresh message index each round; a logistic regression on the cipher bits learns which. Its
  advantage 2·acc − 1 is zero for a secure scheme, and the held-out hits are Binomial(n, 1/2).
- :func:`determinism` — the same images under the same key as other messages (their own
  indices): the share of samples that come out equal, Binomial(n, 1/256) for a random cipher.
- :func:`empirical_key_space` — one image under many keys: colliding cipher images estimate the
  number of effective keys (birthday bound); with no collision, a lower bound.

Every measurement carries its one-sided ``p_value`` under that null.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
import torch
from scipy import stats

from .. import _checks, metrics
from .base import Context, Criterion, Measurement, Subject, check_cell
from .statistical import cipher_images

BLOCK = 8
"""Side of the known block of the within-image keystream-reuse attack."""
GAME_ROUNDS = 256
"""Encryptions per class in the distinguishing game: half train the classifier, half test it."""
GAME_SIDE = 16
"""The game's images are the top-left GAME_SIDE × GAME_SIDE crop of two context images."""
KEY_SAMPLES = 1024
"""Keys tried by :func:`empirical_key_space` (pairs: about 2**19, so 2**16 keys collide about 8 times)."""
MIN_KEY_BITS = 128
"""The null of :func:`empirical_key_space`: at least 2**MIN_KEY_BITS effective keys."""
KEY_IMAGE_SIDE = 16  # every library scheme takes a multiple of 16


def _bits(x: torch.Tensor) -> np.ndarray:
    """The bits of a uint8 tensor, one row per image: ``(N, 8 · C·H·W)`` of 0/1."""
    return np.unpackbits(x.detach().cpu().contiguous().numpy().reshape(x.shape[0], -1), axis=1)


def _recovered(guess: torch.Tensor, truth: torch.Tensor) -> tuple[int, int]:
    """``(right bits, compared bits)`` of a guess of uint8 ``truth``."""
    wrong = int(np.unpackbits(torch.bitwise_xor(guess, truth).cpu().numpy().reshape(-1)).sum())
    bits = 8 * truth.numel()
    return bits - wrong, bits


def _guesses(x: torch.Tensor, y: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Every keystream-reuse guess: name -> ``(guess, truth)`` over the part the attacker does not know."""
    out = {}
    xor = torch.bitwise_xor
    n, _, h, w = x.shape
    if n >= 2:  # image 0 known: its keystream applied to the others
        out["images_xor"] = (xor(y[1:], xor(y[:1], x[:1])), x[1:])
        out["images_add"] = (y[1:] - (y[:1] - x[:1]), x[1:])  # uint8 arithmetic is modulo 256
    if h >= 2:  # row 0 of every image known
        out["rows_xor"] = (xor(y[:, :, 1:], xor(y[:, :, :1], x[:, :, :1])), x[:, :, 1:])
        out["rows_add"] = (y[:, :, 1:] - (y[:, :, :1] - x[:, :, :1]), x[:, :, 1:])
    if w >= 2:  # column 0 known
        out["columns_xor"] = (xor(y[..., 1:], xor(y[..., :1], x[..., :1])), x[..., 1:])
        out["columns_add"] = (y[..., 1:] - (y[..., :1] - x[..., :1]), x[..., 1:])
    if h >= 2 * BLOCK and w >= 2 * BLOCK:  # the top-left block known, tiled over the image
        hb, wb = h // BLOCK * BLOCK, w // BLOCK * BLOCK
        tiles = (hb // BLOCK, wb // BLOCK)
        for name, key in (("blocks_xor", xor(y[:, :, :BLOCK, :BLOCK], x[:, :, :BLOCK, :BLOCK])),
                          ("blocks_add", y[:, :, :BLOCK, :BLOCK] - x[:, :, :BLOCK, :BLOCK])):
            tiled = key.repeat(1, 1, *tiles)
            guess = xor(y[:, :, :hb, :wb], tiled) if name.endswith("xor") else y[:, :, :hb, :wb] - tiled
            known = torch.zeros(hb, wb, dtype=torch.bool, device=x.device)
            known[:BLOCK, :BLOCK] = True
            out[name] = (guess[..., ~known], x[:, :, :hb, :wb][..., ~known])
    return out


def known_plaintext(subject: Subject, context: Context) -> list[Measurement]:
    """Keystream reuse with one known plain/cipher pair (module notes): the best guess's share of
    recovered bits (%, higher leaks more), its PSNR against the truth, and ``p_value`` =
    Bonferroni over the guesses of the binomial tail P(≥ right | n bits, 1/2).

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> x = torch.randint(0, 256, (2, 1, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    >>> m = known_plaintext(Subject("identity", ciphers.get("identity")), Context(x, 0, BUDGETS["quick"]))[0]
    >>> m.value, m.setting["best"], m.p_value < 1e-100
    (100.0, 'images_xor', True)
    """
    subject, context = check_cell(subject, context)
    x = context.images.to(context.device)
    y = cipher_images(subject, context)
    scores = {}
    for name, (guess, truth) in _guesses(x, y).items():
        right, bits = _recovered(guess, truth)
        scores[name] = (right / bits, right, bits, guess, truth)
    if not scores:
        return [Measurement("known_plaintext", math.nan, "% of bits", "higher",
                            {"note": "not applicable: one image of one pixel"}, adversary="known-plaintext")]
    best = max(scores, key=lambda k: scores[k][0])
    share, right, bits, guess, truth = scores[best]
    p_value = min(1.0, len(scores) * float(stats.binom.sf(right - 1, bits, 0.5)))
    psnr = float(metrics.psnr(guess.reshape(1, 1, 1, -1), truth.reshape(1, 1, 1, -1)).mean())
    setting = {"best": best, "bits_compared": bits, "psnr_db": psnr, "guesses": sorted(scores),
               "shares": {k: round(100 * v[0], 4) for k, v in scores.items()},
               "null": "each guessed bit right with probability 1/2; Bonferroni over the guesses",
               "known": "image 0 (for the other images); row 0, column 0, the top-left block (within each image)"}
    return [Measurement("known_plaintext", 100 * share, "% of bits", "higher", setting, p_value=p_value,
                        adversary="known-plaintext")]


def _game_images(context: Context) -> torch.Tensor:
    """The two images of the game: crops of context images 0 and 1 (image 0 and its mirror if alone)."""
    x = context.images[..., :GAME_SIDE, :GAME_SIDE]
    second = x[1] if x.shape[0] > 1 and not torch.equal(x[0], x[1]) else x[0].flip(-1)
    if torch.equal(second, x[0]):  # a symmetric image: change it visibly
        second = 255 - x[0]
    return torch.stack([x[0], second])


def distinguishing_game(subject: Subject, context: Context) -> list[Measurement]:
    """Which of two known images was encrypted? :data:`GAME_ROUNDS` encryptions of each, each at
    a message index of its own; a logistic regression on the cipher bits (scikit-learn) trained on
    half, scored on the other half: the advantage 2·acc − 1 (higher leaks more) and the binomial
    ``p_value`` of the held-out hits.

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> x = torch.randint(0, 256, (2, 1, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    >>> m = distinguishing_game(Subject("identity", ciphers.get("identity")), Context(x, 0, BUDGETS["quick"]))[0]
    >>> m.value, m.p_value < 1e-30
    (1.0, True)
    """
    from sklearn.linear_model import LogisticRegression

    subject, context = check_cell(subject, context)
    pair = _game_images(context).to(context.device)
    generator = torch.Generator().manual_seed(_checks.integer(context.seed, "seed") % 2**64)
    labels = torch.randperm(4 * GAME_ROUNDS, generator=generator) % 2  # balanced, shuffled
    # a key for the game's image size; a trained key (TN-model, TN-GAN) is the run's, trained on its images
    key = subject.key(context.seed, context) if subject.trained_keys else \
        subject.cipher.make_key(context.seed, tuple(pair.shape[1:]))
    # message i is encrypted at index i: the first GAME_ROUNDS * 2 train, the rest test
    cipher = subject.cipher.encrypt(pair[labels.to(pair.device)], key, first_index=0)
    features, y = _bits(cipher).astype(np.float32) * 2 - 1, labels.numpy()
    half = 2 * GAME_ROUNDS
    model = LogisticRegression(C=1.0, max_iter=200).fit(features[:half], y[:half])
    hits = int((model.predict(features[half:]) == y[half:]).sum())
    tests = len(y) - half
    accuracy = hits / tests
    setting = {"rounds": len(y), "train": half, "test": tests, "accuracy": accuracy, "image_side": GAME_SIDE,
               "classifier": "logistic regression on ±1 cipher bits (scikit-learn, C=1)",
               "null": "held-out hits ~ Binomial(test, 1/2)", "indices": "message i at first_index i"}
    return [Measurement("distinguishing_advantage", 2 * accuracy - 1, "advantage", "higher", setting,
                        p_value=float(stats.binom.sf(hits - 1, tests, 0.5)), adversary="chosen-plaintext")]


def determinism(subject: Subject, context: Context) -> list[Measurement]:
    """The images encrypted again under the same key as messages of their own (indices N … 2N − 1):
    the share (%) of samples equal to their first encryption (higher leaks more: a deterministic
    scheme reveals repeated images); ``p_value`` the binomial tail at 1/256.

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> x = torch.zeros(2, 1, 8, 8, dtype=torch.uint8)
    >>> determinism(Subject("pad", ciphers.get("selective", bits=8)), Context(x, 0, BUDGETS["quick"]))[0].value < 5
    True
    """
    subject, context = check_cell(subject, context)
    key = subject.key(context.seed, context)
    first = cipher_images(subject, context, key)
    again = subject.cipher.encrypt(context.images.to(context.device), key, first_index=int(context.images.shape[0]))
    equal, samples = int((first == again).sum()), int(first.numel())
    setting = {"samples": samples, "equal": equal, "null": "each sample equal with probability 1/256",
               "indices": f"0..{first.shape[0] - 1} against {first.shape[0]}..{2 * first.shape[0] - 1}"}
    return [Measurement("determinism", 100 * equal / samples, "% of samples", "higher", setting,
                        p_value=float(stats.binom.sf(equal - 1, samples, 1 / 256)), adversary="chosen-plaintext")]


def empirical_key_space(subject: Subject, context: Context) -> list[Measurement]:
    """One :data:`KEY_IMAGE_SIDE`² crop under :data:`KEY_SAMPLES` keys (seeds ``seed·K … seed·K + K − 1``):
    with c colliding pairs of cipher images among the C(K, 2), about C(K, 2)/c keys (value: log2 of
    it, lower leaks more); with none, log2(C(K, 2)/3) is a 95 % lower bound. ``p_value``: the
    chance of any collision if there were 2**:data:`MIN_KEY_BITS` keys (1 without a collision).
    Schemes whose keys are trained (TN-model, TN-GAN) are not run: NaN with a note.

    >>> from imgleak import ciphers
    >>> from imgleak.scorecard.base import BUDGETS
    >>> x = torch.zeros(1, 1, 16, 16, dtype=torch.uint8)
    >>> empirical_key_space(Subject("identity", ciphers.get("identity")), Context(x, 0, BUDGETS["quick"]))[0].value
    0.0
    """
    subject, context = check_cell(subject, context)
    if subject.trained_keys:
        return [Measurement("empirical_key_space", math.nan, "bits", "lower",
                            {"note": f"not run: {subject.name!r} trains a key per seed, too costly to sample "
                                     f"{KEY_SAMPLES} keys"}, adversary="key")]
    image = context.images[:1, :, :KEY_IMAGE_SIDE, :KEY_IMAGE_SIDE].to(context.device)
    counts: dict[bytes, int] = {}
    base = _checks.integer(context.seed, "seed") * KEY_SAMPLES
    shape = tuple(image.shape[1:])
    for k in range(KEY_SAMPLES):
        cipher = subject.cipher.encrypt(image, subject.cipher.make_key(base + k, shape), first_index=0)
        digest = hashlib.sha256(cipher.cpu().numpy().tobytes()).digest()
        counts[digest] = counts.get(digest, 0) + 1
    pairs = math.comb(KEY_SAMPLES, 2)
    colliding = sum(math.comb(c, 2) for c in counts.values())
    bits = math.log2(pairs / colliding) if colliding else math.log2(pairs / 3)
    p_value = min(1.0, pairs / 2.0**MIN_KEY_BITS) if colliding else 1.0
    setting = {"keys": KEY_SAMPLES, "distinct_ciphers": len(counts), "colliding_pairs": colliding,
               "bound": "estimate" if colliding else "lower bound (95 %): no two keys gave the same cipher image",
               "image": f"1 × {KEY_IMAGE_SIDE}×{KEY_IMAGE_SIDE} crop", "null_bits": MIN_KEY_BITS}
    return [Measurement("empirical_key_space", bits, "bits", "lower", setting, p_value=p_value, adversary="key")]


FAMILY = "games"
ADVERSARY = "chosen-plaintext"  # the attacker submits images of its choice; known_plaintext and the key say theirs

CRITERIA: dict[str, Criterion] = {
    "known_plaintext": known_plaintext,
    "distinguishing_game": distinguishing_game,
    "determinism": determinism,
    "empirical_key_space": empirical_key_space,
}
"""The cheap attacks, by cell name."""

__all__ = ["ADVERSARY", "BLOCK", "CRITERIA", "FAMILY", "GAME_ROUNDS", "GAME_SIDE", "KEY_SAMPLES", "MIN_KEY_BITS",
           "determinism", "distinguishing_game", "empirical_key_space", "known_plaintext"]
