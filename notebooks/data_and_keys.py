# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Data and keys
#
# Every later chapter encrypts images with a secret key and measures what leaks. This chapter
# shows the two ingredients as the library provides them: the images that run by default (real
# photographs shipped inside installed packages, so nothing is downloaded), and the keys and
# keystreams that every cipher draws its randomness from. All numbers and figures below are
# computed when the chapter is executed.

# %% [markdown]
# The parameters of this chapter are in the folded cell below (open it to read them); when the
# book's profile changes some of them, the values of this run follow in a second folded cell.
# Change them for one run with `imgleak book --chapter data_and_keys -p <name> <value>`, or for a whole
# profile in `book/profiles/<profile>.yaml`.
#
# The library calls behind it: {py:func}`~imgleak.images.bundled_photos` and
# {py:func}`~imgleak.images.load_digits` for the images, {py:meth}`Key.from_seed <imgleak.keys.Key.from_seed>`
# and {py:func}`~imgleak.keys.keystream_bytes` for the keys, {py:func}`~imgleak.images.extract_patches` for
# the patches.

# %% tags=["parameters", "hide-input"]
photos = None  # names of bundled photos to show (None: all of them)
folder = None  # a folder of your own images (e.g. COCO val2017) to use instead of the bundled photos
folder_count = 8  # how many of the folder's largest images to load
seed = 0  # the experiment seed: it determines the key
keystream_bytes = 1_048_576  # keystream length to test for bit balance
patch_photo = "astronaut"  # which image to cut patches from
patch_size = 64  # patch side in pixels (patches are cut, never resized)
patches_per_image = 8
data_root = "data"  # where torchvision data sets live (MNIST, CIFAR-10, ...)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from imgleak import images, keys, plots

# %% [markdown]
# ## The images
#
# By default the book uses the photographs that scikit-image, scikit-learn and matplotlib ship.
# Set `folder` to a directory of your own images to use its `folder_count` largest files instead
# (that is how the selective-encryption paper picks "the 100 largest COCO images").

# %%
if folder is None:
    gallery = images.bundled_photos(photos)
else:
    gallery = images.load_folder(folder, count=folder_count)
pd.DataFrame(
    [{"name": p.name, "height": p.size[0], "width": p.size[1], "channels": p.image.shape[0],
      "source": p.source} for p in gallery]
)

# %% tags=["hide-input"]
plots.photo_grid(gallery);

# %% [markdown]
# A small labelled set ships too: scikit-learn's 1,797 handwritten digits (8×8 grey levels,
# 0–16 scaled to 0–255). It stands in for MNIST wherever a classifier has to be trained offline.

# %%
digits = images.load_digits()
print(f"{len(digits)} digits, tensor {tuple(digits.images.shape)} {digits.images.dtype}, "
      f"class counts {np.bincount(digits.labels.numpy()).tolist()}")
plots.image_grid([digits.images[i] for i in range(16)],
                 [f"label {int(digits.labels[i])}" for i in range(16)], columns=8, size=1.2);

# %% [markdown]
# The papers' own data sets (MNIST, Fashion-MNIST, CIFAR-10, STL-10) load through torchvision
# with `images.load_torchvision(name, root, download=...)`. Where they are missing and cannot be
# downloaded, the loader says what to fetch and where to put it:

# %%
try:
    mnist = images.load_torchvision("mnist", data_root, download=False)
    print(f"MNIST found under {data_root!r}: {tuple(mnist.images.shape)}")
except images.DatasetUnavailableError as err:
    print(err)

# %% [markdown]
# ## Keys and keystreams
#
# A key is 256 bits, made from the experiment `seed` (so every figure can be reproduced) or at
# random with `keys.Key.generate()`. Keystreams are ChaCha20 (RFC 8439) output for the key.
# A good keystream has half of its bits set, at every bit position; the band below is where a
# fair coin stays 99 % of the time.

# %%
key = keys.Key.from_seed(seed)
stream = keys.keystream_bytes(key, keystream_bytes)
balance = keys.bit_balance(stream)
print(f"key {key} (fingerprint), {balance.n_bytes:,} keystream bytes, "
      f"share of ones {balance.ones_fraction:.5f}, z = {balance.z_score:+.2f}")
plots.bit_balance_plot(balance);

# %% tags=["hide-input"]
plots.byte_histogram_plot(stream);

# %% [markdown]
# The same seed gives the same keystream; a different seed or a derived sub-key gives an
# unrelated one (about half of the bits differ):

# %%
again = keys.keystream_bytes(keys.Key.from_seed(seed), keystream_bytes)
other = keys.keystream_bytes(keys.Key.from_seed(seed + 1), keystream_bytes)
derived = keys.keystream_bytes(key.derive("selective"), keystream_bytes)
pd.DataFrame({
    "compared with": ["same seed", f"seed {seed + 1}", "sub-key 'selective'"],
    "share of differing bits": [np.unpackbits(stream ^ s).mean() for s in (again, other, derived)],
})

# %% [markdown]
# ## Patches
#
# Leakage is measured on patches cut from an image and, at the same places, from its cipher:
# fixed size, no resizing, positions drawn from the seed.

# %%
photo = next((p for p in gallery if p.name == patch_photo), gallery[0])
positions = images.patch_positions(*photo.size, size=patch_size, count=patches_per_image, seed=seed)
plots.patch_overlay(photo.image, positions, patch_size,
                    title=f"{photo.name}: {patches_per_image} patches of {patch_size}×{patch_size}");

# %%
patches = images.extract_patches(photo.image, positions, patch_size)
print(f"patch tensor {tuple(patches.shape)} {patches.dtype}")
plots.image_grid(list(patches), [f"patch {i}" for i in range(len(patches))], columns=8, size=1.3);
