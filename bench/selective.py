"""Selective encryption throughput against the machine's limits, measured in one run.

Prints, for a 64x3x512x512 uint8 batch (override with --shape):
  * the memory limit: ``copy_`` into a preallocated tensor of the same shape (and, for scale, copies
    into new memory, which pay the kernel's page faults: ``clone`` and numpy's huge pages);
  * the keystream limit: ChaCha20 for the key bits the batch needs (n bits per sample), into a
    preallocated buffer: on CPU OpenSSL on torch's threads, 1 MiB at a time; else the torch ChaCha20;
  * imgleak's encryption end to end (keystream included) for n = 1, 4, 8, into new memory (the
    default), into a preallocated ``out=`` (like ``copy_``) and in place (``out=x``), and its XOR
    step alone;
  * for n = 8 in place, the path before cryptography 51 (OpenSSL XORing each part straight into
    its output, no scratch buffer; into a second buffer here, the same OpenSSL work, since 51
    refuses overlapping buffers): issue 15's target is in place >= 0.9 of it;
  * a straightforward numpy version, for scale.
Targets (issue 3): end to end within 1.5x of the slower limit; XOR step >= 50 % of the memory limit.

    .venv/bin/python bench/selective.py [--device cuda] [--repeats 5]
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from imgleak.chacha import BLOCK_BYTES, chacha20_keystream
from imgleak.ciphers.selective import SelectiveEncryption
from imgleak.keys import Key, chacha20_encryptor
from timing import best_seconds


def cpu_keystream(key: Key, stream: np.ndarray, pool: ThreadPoolExecutor) -> None:
    """Overwrite ``stream`` with ChaCha20 output (in place: the same work as from zeros), 1 MiB per task."""
    step = 1 << 20

    def fill(start: int) -> None:
        part = stream[start:start + step]
        chacha20_encryptor(key, start // BLOCK_BYTES).update_into(part, part)

    list(pool.map(fill, range(0, stream.size, step)))


def direct_openssl(key: Key, x: np.ndarray, out: np.ndarray, pool: ThreadPoolExecutor) -> None:
    """n = 8 as before cryptography 51: every 2 MiB part XORed by OpenSSL straight into ``out``."""
    step = 1 << 21

    def part(start: int) -> None:
        counter_nonce = (start // BLOCK_BYTES).to_bytes(4, "little") + bytes(12)
        context = Cipher(algorithms.ChaCha20(key.material, counter_nonce), mode=None).encryptor()
        context.update_into(x[start:start + step], out[start:start + step])

    list(pool.map(part, range(0, x.size, step)))


def numpy_selective(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    """What a researcher might write: numpy random bits, shifted and XORed (not cryptographic)."""
    k = np.random.default_rng(seed).integers(0, 2**n, size=x.shape, dtype=np.uint8)
    return x ^ (k << (8 - n)).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--shape", default="64,3,512,512")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    device = torch.device(args.device)
    shape = tuple(int(s) for s in args.shape.split(","))
    x = torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0)).to(device)
    out = torch.empty_like(x)
    key = Key.from_seed(0)
    mib = x.numel() / 2**20
    print(f"batch {shape} uint8 = {mib:.0f} MiB on {device} ({torch.get_num_threads()} CPU threads)")

    copy_s = best_seconds(lambda: out.copy_(x), device, args.repeats)
    clone_s = best_seconds(lambda: x.clone(), device, args.repeats)
    x_np = x.cpu().numpy()
    numpy_copy_s = best_seconds(lambda: np.copyto(np.empty_like(x_np), x_np), torch.device("cpu"), args.repeats)
    print(f"memory limit   copy_            {mib / copy_s:8.0f} MiB/s | into new memory: clone {mib / clone_s:6.0f} MiB/s, "
          f"numpy empty_like + copyto {mib / numpy_copy_s:6.0f} MiB/s")
    pool = ThreadPoolExecutor(torch.get_num_threads())
    for n in (1, 4, 8):
        cipher = SelectiveEncryption(n)
        stream_bytes = -(-x.numel() // 8) * n
        sub = key.derive("selective")
        if device.type == "cpu":
            stream = np.zeros(stream_bytes, np.uint8)
            stream_s = best_seconds(lambda: cpu_keystream(sub, stream, pool), device, args.repeats)
        else:
            stream_s = best_seconds(lambda: chacha20_keystream(sub, stream_bytes, device=device), device, args.repeats)
        limit_s = max(copy_s, stream_s)
        new_memory_limit_s = max(numpy_copy_s, stream_s)
        e2e_s = best_seconds(lambda: cipher.encrypt(x, key), device, args.repeats)
        e2e_out_s = best_seconds(lambda: cipher.encrypt(x, key, out=out), device, args.repeats)
        inplace_s = best_seconds(lambda: cipher.encrypt(out, key, out=out), device, args.repeats)
        mask = cipher.encrypt(torch.zeros_like(x), key)  # E(0) is the key mask
        xor_s = best_seconds(lambda: torch.bitwise_xor(x, mask, out=out), device, args.repeats)
        numpy_s = best_seconds(lambda: numpy_selective(x_np, n, 0), torch.device("cpu"), args.repeats)
        print(f"n={n}: keystream limit {mib / stream_s:8.0f} MiB/s | end to end into out= {mib / e2e_out_s:8.0f} MiB/s "
              f"= {limit_s / e2e_out_s:4.2f}, into new memory {mib / e2e_s:8.0f} MiB/s = {limit_s / e2e_s:4.2f} "
              f"of the slower limit (target >= {1 / 1.5:.2f}; new memory against numpy's copy into new memory: "
              f"{new_memory_limit_s / e2e_s:4.2f}) | "
              f"XOR step {mib / xor_s:8.0f} MiB/s = {copy_s / xor_s:4.2f} of copy_ (target >= 0.50) | "
              f"numpy {mib / numpy_s:6.0f} MiB/s | in place {mib / inplace_s:8.0f} MiB/s = {limit_s / inplace_s:4.2f}")
        if n == 8 and device.type == "cpu":
            flat_in, flat_out = x_np.reshape(-1), np.empty(x_np.size, np.uint8)
            direct_s = best_seconds(lambda: direct_openssl(sub, flat_in, flat_out, pool), device, args.repeats)
            print(f"n=8 in place {mib / inplace_s:8.0f} MiB/s against OpenSSL straight into memory (the path before "
                  f"cryptography 51) {mib / direct_s:8.0f} MiB/s: {direct_s / inplace_s:4.2f} (target >= 0.90)")


if __name__ == "__main__":
    main()
