"""Encryption throughput of the learnable-encryption schemes and training speed of the attacks, in one run.

Prints, for a 256x3x96x96 uint8 batch (6.75 MiB; override with --shape):
  * the memory limit: ``copy_`` of the batch into a preallocated tensor of the same shape;
  * each scheme's ``encrypt`` in images/s and MiB/s, and as a ratio to ``copy_`` (target issue:
    >= 0.3 for the keyed schemes, key generation included): Tanaka's block-wise scheme, pixel-wise
    encryption with one key ("same") and a key per image ("different"), EtC (same and different
    keys). imgleak caches no key material: every ``encrypt(x, key)`` derives its sub-keys, seeds
    its generators and draws the flips, orders and permutations again. To keep it that way for
    the timing, every timed call also gets a fresh ``Key.from_seed(i)``;
  * beside each, a straightforward numpy version for scale (``np.random.default_rng`` for the
    key material, drawn inside the timed call; vectorised over the batch, per image for the
    per-image keys; per block for EtC, whose blocks turn by different angles);
  * the TN-model / TN-GAN "encryption": ``TNModel().encrypt(x, key)``, the forward pass of an untrained
    ``UNet()`` (network inference, no target, no numpy version), on the first --tn-images images;
    its ratio is MiB/s against the batch's ``copy_`` MiB/s;
  * each attack's speed: FR-Attack (``feature_reconstruction``, no training) in images/s on the
    batch; ITN (locally connected, block, U-Net), GAN-Attack (1x1 conv, block, U-Net), TN-model and
    TN-GAN training, one epoch each on --attack-images (64) random 96x96 images (default
    networks, ``progress=False``), as the ``images_per_second`` each result reports.
--threads sets torch's CPU threads (default: torch's choice); on a shared 2-core machine one
thread is often faster, as a busy second core stalls every parallel kernel.

    .venv/bin/python bench/attacks.py [--device cuda] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable

import numpy as np
import torch

from imgleak.attacks.feature_reconstruction import feature_reconstruction
from imgleak.attacks.gan import train_gan_attack
from imgleak.attacks.inverse_network import train_inverse_network
from imgleak.ciphers.blockwise import BlockwiseScramble
from imgleak.ciphers.etc import EtCEncryption
from imgleak.ciphers.pixelwise import PixelwiseEncryption
from imgleak.ciphers.transform_net import TNModel, TransformNet
from imgleak.keys import Key
from imgleak.ciphers.unet import UNet
from imgleak.training.transform_nets import train_tn_gan, train_tn_model
from timing import best_seconds


def numpy_blockwise(x: np.ndarray, seed: int, block: int = 4) -> np.ndarray:
    """Tanaka's scheme as a researcher might write it: nibble vectors per block, reversed, fancy-indexed."""
    n, c, h, w = x.shape
    rng = np.random.default_rng(seed)
    d = 2 * block * block * c
    perm, reversal = rng.permutation(d), rng.integers(0, 2, d, dtype=np.uint8) * np.uint8(15)
    values = x.reshape(n, c, h // block, block, w // block, block).transpose(0, 2, 4, 3, 5, 1).reshape(
        n, h // block, w // block, -1)
    nibbles = (np.concatenate([values & 15, values >> 4], axis=-1) ^ reversal)[..., perm]
    values = nibbles[..., :d // 2] | (nibbles[..., d // 2:] << 4)
    return values.reshape(n, h // block, w // block, block, block, c).transpose(0, 5, 1, 3, 2, 4).reshape(n, c, h, w)


def numpy_pixelwise(x: np.ndarray, seed: int, per_image: bool) -> np.ndarray:
    """Negative–positive flips and a channel order per pixel: one key, or a loop over images with one each."""
    n, c, h, w = x.shape

    def key(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return rng.integers(0, 2, (c, h, w), dtype=np.uint8) * np.uint8(255), rng.random((c, h, w)).argsort(axis=0)

    if not per_image:
        flip, order = key(np.random.default_rng(seed))
        return np.take_along_axis(x ^ flip, order[None], axis=1)
    out = np.empty_like(x)
    for i in range(n):
        flip, order = key(np.random.default_rng([seed, i]))
        out[i] = np.take_along_axis(x[i] ^ flip, order, axis=0)
    return out


def numpy_etc(x: np.ndarray, seed: int, per_image: bool, block: int = 16) -> np.ndarray:
    """EtC block by block: move, turn/flip (``np.rot90``), negate, reorder channels; one key or one per image."""
    n, c, h, w = x.shape
    hb, wb = h // block, w // block
    blocks = x.reshape(n, c, hb, block, wb, block).transpose(0, 2, 4, 1, 3, 5).reshape(n, hb * wb, c, block, block)
    out = np.empty_like(blocks)

    def encrypt(source: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> None:  # (..., blocks, C, b, b)
        count = hb * wb
        perm, turns, negative = rng.permutation(count), rng.integers(0, 8, count), rng.integers(0, 2, count)
        order = rng.random((count, c)).argsort(axis=1)
        for t in range(count):
            moved = np.rot90(source[..., perm[t], :, :, :], turns[t] % 4, axes=(-2, -1))
            moved = moved[..., ::-1] if turns[t] >= 4 else moved
            moved = 255 - moved if negative[t] else moved
            target[..., t, :, :, :] = moved[..., order[t], :, :]

    if per_image:
        for i in range(n):
            encrypt(blocks[i], out[i], np.random.default_rng([seed, i]))
    else:
        encrypt(blocks, out, np.random.default_rng(seed))
    return out.reshape(n, hb, wb, c, block, block).transpose(0, 3, 1, 4, 2, 5).reshape(n, c, h, w)


def attack_speeds(images: torch.Tensor, device: torch.device) -> list[tuple[str, float]]:
    """One epoch of every trained attack on ``images``: (name, training images/s)."""
    key = Key.from_seed(1)
    half = images.shape[0] // 2
    tn = TransformNet(UNet(images.shape[1], images.shape[1]), "tn_model").to(device)
    cipher_for = {  # each attack network against the scheme it is meant for
        "locally_connected": PixelwiseEncryption("same").encrypt(images, key),
        "conv1x1": PixelwiseEncryption("same").encrypt(images, key),
        "block": BlockwiseScramble().encrypt(images, key),
        "unet": TNModel().encrypt(images, tn),
    }
    common = {"epochs": 1, "progress": False, "device": device, "seed": 0}
    speeds = []
    for architecture in ("locally_connected", "block", "unet"):
        result = train_inverse_network(cipher_for[architecture], images, architecture, **common)
        speeds.append((f"ITN-Attack, {architecture}", result.images_per_second))
    for architecture in ("conv1x1", "block", "unet"):  # cipher images of one half, plain images of the other
        result = train_gan_attack(cipher_for[architecture][:half], images[half:], architecture, **common)
        speeds.append((f"GAN-Attack, {architecture}", result.images_per_second))
    labels = torch.arange(images.shape[0]) % 4
    result = train_tn_model(images, labels.to(images.device), classifier_epochs=1, **common)
    speeds.append(("TN-model training (U-Net, frozen classifier)", result.images_per_second))
    result = train_tn_gan(images, **common)
    speeds.append(("TN-GAN training (2 U-Nets, 2 discriminators)", result.images_per_second))
    return speeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--shape", default="256,3,96,96")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tn-images", type=int, default=32)
    parser.add_argument("--attack-images", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    shape = tuple(int(s) for s in args.shape.split(","))
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator).to(device)
    x_np = x.cpu().numpy()
    out = torch.empty_like(x)
    n, mib = shape[0], x.numel() / 2**20
    cpu = torch.device("cpu")
    print(f"batch {shape} uint8 = {mib:.2f} MiB on {device} ({torch.get_num_threads()} CPU threads)")

    copy_s = best_seconds(lambda: out.copy_(x), device, args.repeats)
    print(f"memory limit: copy_ {mib / copy_s:,.0f} MiB/s ({copy_s * 1e3:.3f} ms)\n")
    seeds = itertools.count(1)
    schemes: list[tuple[str, object, Callable[[int], np.ndarray] | None]] = [
        ("blockwise (Tanaka, 4x4)", BlockwiseScramble(), lambda s: numpy_blockwise(x_np, s)),
        ("pixelwise, same key", PixelwiseEncryption("same"), lambda s: numpy_pixelwise(x_np, s, False)),
        ("pixelwise, key per image", PixelwiseEncryption("different"), lambda s: numpy_pixelwise(x_np, s, True)),
        ("EtC 16x16, same key", EtCEncryption(), lambda s: numpy_etc(x_np, s, False)),
        ("EtC 16x16, key per image", EtCEncryption(mode="different"), lambda s: numpy_etc(x_np, s, True)),
    ]
    print(f"{'scheme':<34} {'ms':>8} {'img/s':>9} {'MiB/s':>8} {'÷ copy_':>8} | "
          f"numpy: {'ms':>8} {'MiB/s':>7} {'÷ copy_':>8}")
    for label, cipher, numpy_version in schemes:
        seconds = best_seconds(lambda: cipher.encrypt(x, Key.from_seed(next(seeds))), device, args.repeats)
        numpy_s = best_seconds(lambda: numpy_version(next(seeds)), cpu, args.repeats)
        print(f"{label:<34} {seconds * 1e3:8.2f} {n / seconds:9,.0f} {mib / seconds:8,.0f} {copy_s / seconds:8.3f} | "
              f"       {numpy_s * 1e3:8.1f} {mib / numpy_s:7,.0f} {copy_s / numpy_s:8.4f}")
    tn_x = x[:args.tn_images]
    tn = TransformNet(UNet(shape[1], shape[1]), "tn_model").to(device)
    tn_s = best_seconds(lambda: TNModel().encrypt(tn_x, tn), device, 1)
    tn_mib = tn_x.numel() / 2**20
    print(f"{'TN-model/TN-GAN U-Net (inference)':<34} {tn_s * 1e3:8.0f} {tn_x.shape[0] / tn_s:9,.0f} "
          f"{tn_mib / tn_s:8,.1f} {tn_mib / tn_s / (mib / copy_s):8.5f} | (no target; {tn_x.shape[0]} images)")
    print("target: >= 0.3 of copy_ for the keyed schemes, key generation included\n")

    fr_s = best_seconds(lambda: feature_reconstruction(x), device, args.repeats)
    print(f"{'attack':<46} {'images/s':>10}")
    print(f"{'FR-Attack (no training)':<46} {n / fr_s:10,.0f}")
    images = torch.randint(0, 256, (args.attack_images, *shape[1:]), dtype=torch.uint8, generator=generator).to(device)
    for label, speed in attack_speeds(images, device):
        print(f"{label:<46} {speed:10,.1f}")
    print(f"(training: one epoch on {args.attack_images} random images of {shape[1]}x{shape[2]}x{shape[3]})")


if __name__ == "__main__":
    main()
