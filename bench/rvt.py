"""RVT and random-permutation throughput against the memory limit, measured in one run.

Prints, for uint8 batches of 1024x1x28x28 (MNIST-like) and 256x3x32x32 (CIFAR-like):
  * the memory limit: ``copy_`` of the batch into a preallocated tensor of the same shape;
  * RVT encryption (faithful and invertible; the key's gather map is computed once and cached,
    as when a data set is encrypted) and random permutations (per image, as in the paper, and one
    fixed permutation), each as a ratio to ``copy_`` (target issue 4: >= 0.3). Per-image
    permutations are shown twice: applying ready maps, and end to end (drawing N permutations
    from the key, one ``randperm`` per image, included);
  * for reference, one ``torch.gather`` with the RVT map expanded over the batch into a
    preallocated ``out=`` (the kernel alone, no map lookup); for scale, numpy versions done per
    image the way the authors' code does it: a Python loop over the pixels of every vortex
    (:func:`imgleak.ciphers.rvt.reference_apply`, timed on a few images and scaled to the batch),
    and ``np.take`` with the gather map, image by image;
  * key and map generation: an RVT key drawn and its map built (both modes, cache bypassed), and
    the N per-image permutations;
  * the information measure (:mod:`imgleak.information`) per 224x224 RGB image: M(I), and ΔM for
    an RVT map and for a random permutation.

    .venv/bin/python bench/rvt.py [--device cuda] [--repeats 5] [--threads 1]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from imgleak import information
from imgleak.ciphers import rvt
from imgleak.ciphers.permutation import RandomPermutation, move_pixels
from imgleak.keys import Key
from timing import best_seconds


def numpy_take_per_image(x: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """``out[i] = x[i].reshape(C, -1)[:, maps[i]]`` image by image (maps ``(N, P)`` or ``(P,)``)."""
    n, c, h, w = x.shape
    out = np.empty_like(x)
    for i in range(n):
        index = maps[i] if maps.ndim == 2 else maps
        out[i] = np.take(x[i].reshape(c, h * w), index, axis=1).reshape(c, h, w)
    return out


def bench_batch(shape: tuple[int, ...], strength: str, device: torch.device, repeats: int, loop_images: int) -> None:
    n, c, h, w = shape
    x = torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0)).to(device)
    out = torch.empty_like(x)
    key = Key.from_seed(0)
    mib = x.numel() / 2**20
    copy_s = best_seconds(lambda: out.copy_(x), device, repeats)
    print(f"\nbatch {shape} uint8 = {mib:.2f} MiB on {device}; RVT strength {strength!r}")
    print(f"  memory limit  copy_                  {mib / copy_s:8.0f} MiB/s  ({copy_s * 1e3:7.3f} ms)")

    def report(name: str, seconds: float, note: str = "") -> None:
        print(f"  {name:<38} {mib / seconds:8.0f} MiB/s  ({seconds * 1e3:7.3f} ms) = {copy_s / seconds:5.2f} of copy_"
              f"{'  ' + note if note else ''}")

    x_np = x.cpu().numpy()
    for mode in rvt.MODES[::-1]:  # faithful, invertible
        cipher = rvt.RandomVortex(mode, strength)
        report(f"RVT {mode}", best_seconds(lambda: cipher.encrypt(x, key), device, repeats), "(target >= 0.30)")
    cipher = rvt.RandomVortex("faithful", strength)
    vortex_key = cipher.vortex_key(key, shape)
    rvt_map = cipher.coordinate_map(key, shape).numpy()
    flat, flat_out = x.reshape(n, c, h * w), out.reshape(n, c, h * w)
    shared = torch.from_numpy(rvt_map).to(device)[None, None, :].expand(n, c, h * w)
    report("  torch.gather, map expanded, out=", best_seconds(lambda: torch.gather(flat, 2, shared, out=flat_out),
                                                               device, repeats), "(one kernel, for reference)")
    take_s = best_seconds(lambda: numpy_take_per_image(x_np, rvt_map), torch.device("cpu"), repeats)
    hwc = [np.ascontiguousarray(x_np[i].transpose(1, 2, 0)) for i in range(loop_images)]
    loop_s = best_seconds(lambda: [rvt.reference_apply(im, vortex_key) for im in hwc], torch.device("cpu"), 1)
    loop_s *= n / loop_images
    report("  numpy np.take per image", take_s)
    report("  numpy loop over pixels (authors')", loop_s, f"(timed on {loop_images} images, scaled to {n})")

    per_image, fixed = RandomPermutation(per_image=True), RandomPermutation(per_image=False)
    maps = per_image.permutations(key, n, h * w).to(device)
    report("permutation per image, ready maps", best_seconds(lambda: move_pixels(x, maps), device, repeats),
           "(target >= 0.30)")
    report("permutation per image, end to end", best_seconds(lambda: per_image.encrypt(x, key), device, repeats),
           "(N randperms drawn from the key included)")
    report("permutation fixed", best_seconds(lambda: fixed.encrypt(x, key), device, repeats), "(target >= 0.30)")
    report("  numpy np.take per image (per-image maps)",
           best_seconds(lambda: numpy_take_per_image(x_np, maps.cpu().numpy()), torch.device("cpu"), repeats))

    seeds = iter(range(1, 10**6))
    generate_s = best_seconds(lambda: rvt.generate_vortex_key(Key.from_seed(next(seeds)), shape, strength),
                              torch.device("cpu"), repeats)
    fresh = [rvt.generate_vortex_key(Key.from_seed(s), shape, strength) for s in range(10**6, 10**6 + 2 * repeats + 2)]
    unseen = iter(fresh)  # a key not seen before: the map cache misses
    line = f"  RVT key generation {generate_s * 1e3:6.2f} ms;"
    for mode in rvt.MODES[::-1]:
        map_s = best_seconds(lambda: rvt.coordinate_map(next(unseen), shape, mode), torch.device("cpu"), repeats)
        line += f" {mode} map {map_s * 1e3:6.2f} ms;"
    print(line)
    perm_s = best_seconds(lambda: per_image.permutations(key, n, h * w), torch.device("cpu"), repeats)
    print(f"  {n} per-image permutations drawn: {perm_s * 1e3:7.1f} ms ({perm_s / n * 1e6:6.1f} us per image)")


def bench_measure(device: torch.device, repeats: int) -> None:
    n, size = 8, 224
    x = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)).to(device)
    key = Key.from_seed(0)
    rvt_map = rvt.RandomVortex("invertible", "mnist").coordinate_map(key, (size, size))
    faithful_map = rvt.RandomVortex("faithful", "mnist").coordinate_map(key, (size, size))
    perm = torch.randperm(size * size, generator=torch.Generator().manual_seed(2))
    print(f"\ninformation measure on {n} RGB {size}x{size} images on {device} (radius {information.RADIUS:g}, "
          f"product weights), per image:")
    rows = [("M(I)", lambda: information.information_content(x)),
            ("ΔM, RVT invertible map", lambda: information.information_variation(x, rvt_map)),
            ("ΔM, RVT faithful map", lambda: information.information_variation(x, faithful_map)),
            ("ΔM, random permutation", lambda: information.information_variation(x, perm))]
    for name, work in rows:
        print(f"  {name:<24} {best_seconds(work, device, repeats) / n * 1e3:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop-images", type=int, default=8, help="images timed through the per-pixel loop")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{torch.get_num_threads()} CPU threads, torch {torch.__version__}")
    bench_batch((1024, 1, 28, 28), "mnist", device, args.repeats, args.loop_images)
    bench_batch((256, 3, 32, 32), "cifar", device, args.repeats, args.loop_images)
    bench_measure(device, max(1, args.repeats // 2))


if __name__ == "__main__":
    main()
