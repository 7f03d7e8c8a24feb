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
# # Selective encryption and mutual-information leakage
#
# Selective encryption {cite:p}`puteaux2021combining` XORs only the *n* most significant bits
# of every pixel with a keystream and leaves the 8 − *n* least significant bits in clear, so
# that forensic analysis can still run on them. How much of the image do those clear bits
# leak? {cite:t}`messadi2025selective` compare estimators of the mutual information (MI)
# between an image *X* and the clear part *C* of its cipher: the plug-in histogram MI, MINE
# {cite:p}`belghazi2018mine` on flattened pixels, and MINE on CLIP and ResNet embeddings of
# image patches. Their claim, which this chapter re-measures: **histogram MI falls linearly in
# n (≈ 8 − n bits per pixel, as for pure noise), while MINE — and MINE on embeddings in
# particular — does not**, because it sees spatial structure that survives in the low bit-planes.
#
# The paper's equations were reconstructed from its prose (see the library docstrings); where
# the paper leaves a choice open, the parameter below says what we chose.

# %% [markdown]
# The parameters of this chapter are in the folded cell below (open it to read them); when the
# book's profile changes some of them, the values of this run follow in a second folded cell.
# Change them for one run with `imgleak book --chapter selective_encryption -p <name> <value>`, or for a whole
# profile in `book/profiles/<profile>.yaml`.
#
# The library calls behind it: the scheme {py:class}`~imgleak.ciphers.selective.SelectiveEncryption`,
# {py:func}`~imgleak.experiments.selective.histogram_mi` (on
# {py:func}`~imgleak.mi.histogram.mutual_information`), the encoders of
# {py:func}`~imgleak.mi.encoders.load_encoder`, and MINE through
# {py:func}`~imgleak.experiments.selective.mine_by_level` and
# {py:func}`~imgleak.experiments.selective.estimator_sweep` (on {py:func}`~imgleak.mi.mine.estimate_mi_many`).

# %% tags=["parameters", "hide-input"]
photos = None  # bundled photos to use (None: all); the paper uses the 100 largest COCO images
folder = None  # a folder of images (e.g. COCO val2017) to use instead of the bundled photos
folder_count = 100  # how many of the folder's largest images
levels = [0, 1, 2, 3, 4, 5, 6, 7, 8]  # numbers n of encrypted most significant bits
seed = 0  # determines the key, the patch positions, the splits and the networks
miller_madow = False  # bias-correct the histogram MI
uniform_images = 8  # images of uniform noise used as the reference that meets the 8 - n bound
pixel_patch_size = 16  # side of the patches flattened for pixel-level MINE (paper: not stated)
pixel_patches_per_image = 2000
embedding_patches_per_image = 256  # 224x224 patches per image for MINE on embeddings (positions may overlap)
encoders = ["clip-vit-b-32", "resnet50"]  # frozen encoders: clip-vit-b-32, resnet50, resnet18
pretrained = True  # False: randomly initialised encoders (labelled as such everywhere)
encoder_weights = {}  # encoder name -> local weights file, e.g. {"resnet50": "resnet50.pth"}
rounding_decimals = 1  # decimals kept when rounding CLIP features for the plug-in MI
mine_epochs = 100
mine_batch_size = 256
mine_lr = 1e-3
mine_hidden = 256
estimators = ["mine", "smile", "infonce"]  # objectives of imgleak.mi.estimate_mi compared in the n-sweep
seeds = [0, 1, 2]  # seeds of that comparison (split, batches, critic); the intervals are across them
estimator_options = {"infonce": {"critic": "separable"}}  # estimator -> its own options (InfoNCE scores all
# B x B pairs of a batch: the separable critic g(x)·h(y) does it in one matrix product, the joint one in B passes)
estimator_pixel_patches_per_image = None  # pixel pairs per image in that comparison (None: those of Fig. 4)
confidence = 0.95  # of the Student-t intervals across seeds
linearity_r2 = 0.95  # a sweep is "not linear in n" when a straight line explains less than this (R²)
convergence_fraction = 0.9  # a run has converged at the first epoch reaching this share of its estimate
convergence_min_bits = 0.1  # runs estimating less than this have nothing to converge to (left out)
device = "auto"  # "auto": CUDA when available

# %% tags=["hide-input"]
import time

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from imgleak import images, keys, plots
from imgleak.cache import cached
from imgleak.ciphers import SelectiveEncryption
from imgleak.mi import encoders as enc
from imgleak.experiments import selective as sl

key = keys.Key.from_seed(seed)
gallery = images.bundled_photos(photos) if folder is None else images.load_folder(folder, count=folder_count)
names = [p.name for p in gallery]
pictures = [p.image for p in gallery]
mine_options = dict(epochs=mine_epochs, batch_size=mine_batch_size, lr=mine_lr, hidden=mine_hidden,
                    seed=seed, device=device, progress=False)
print(f"{len(pictures)} images ({', '.join(names)}), levels n = {levels}, key {key}")

# %% [markdown]
# ## The scheme (Fig. 1)
#
# The cipher keeps the low bit-planes; its clear part *C* = *E* mod 2<sup>8−n</sup> is what
# anyone who knows *n* can read without the key. It is shown scaled to the full range,
# *C′* = *C* · 2<sup>n</sup> (the same information, and what the encoders see).

# %%
first = pictures[0]
views = {}
for n in levels:
    cipher = SelectiveEncryption(n).encrypt(first, key.derive("image/0"))
    views[n] = (cipher, sl.clear_view(first, n, key, 0))
plots.level_views_figure(views, names[0]);

# %% [markdown]
# ## Histogram MI (Fig. 2)
#
# The plug-in MI between an image and its clear part, over all pixels and channels of each
# image. The clear part is a deterministic function of the image, so the MI equals the entropy
# of the clear part, at most 8 − *n* bits, reached by uniform noise.

# %%
photo_mi = sl.histogram_mi(pictures, levels, key, names, miller_madow=miller_madow).assign(source="photographs")
noise = sl.uniform_images(uniform_images, (3, 256, 256), seed)
noise_mi = sl.histogram_mi(noise, levels, key.derive("noise"), miller_madow=miller_madow).assign(source="uniform noise")
histogram_table = pd.concat([photo_mi, noise_mi])
fit = sl.linearity(photo_mi, "mi_bits")
plots.mi_by_level_plot(histogram_table, title="Histogram MI between image and clear part");
print(f"photographs: slope {fit['slope']:.3f} bits per encrypted bit, R² of a straight line {fit['r2']:.4f}")
histogram_table.pivot_table(index="n", columns="source", values="mi_bits").round(3)

# %% [markdown]
# ## Encoders
#
# CLIP ViT-B-32 (open_clip) and ResNet (torchvision) are frozen; 224×224 patches go in
# without resizing. Pretrained weights come from the usual caches or from `encoder_weights`.

# %%
models = {name: enc.load_encoder(name, pretrained=pretrained, weights=encoder_weights.get(name), device=device)
          for name in encoders}
for model in models.values():
    print(f"{model.name}: {model.description}, {model.dim}-d embeddings on {model.device}")
if not all(m.pretrained for m in models.values()):
    display(Markdown(
        ":::{warning}\nThis run uses **randomly initialised** encoders (`pretrained=False`), because the "
        "pretrained weights are not available here. Their embeddings keep some image structure but are not the "
        "paper's features: every figure that used them says so in its title. Re-run with `pretrained=True` on a "
        "machine that has the weights to reproduce the paper's setting.\n:::"))

# %% [markdown]
# ## CLIP cosine similarity and rounded-feature MI (Fig. 3)
#
# Whole images and their clear parts, resized to 224×224 as in the paper, are embedded; (a) the
# cosine similarity of the two embeddings, (b) the plug-in MI of the features rounded to
# `rounding_decimals` decimals, pooled over feature dimensions and images (our reading of the
# paper's "naive rounding").

# %%
clip_name = "clip-vit-b-32" if "clip-vit-b-32" in models else encoders[0]
whole = cached(sl.level_image_embeddings)(models[clip_name], pictures, levels, key)
similarity = sl.embedding_similarity(whole, names, rounding_decimals)
plots.similarity_plot(similarity, models[clip_name].description);
floor = similarity.loc[similarity["n"] == max(levels), "rounded_mi_bits"].iloc[0]
print(f"rounded-feature MI at n = {max(levels)}: {floor:.3f} bits")

# %% [markdown]
# Pooling the feature dimensions has a floor: at *n* = 8 the clear part is blank, so it carries
# no information about the image, yet pairs (f<sub>d</sub>(X), f<sub>d</sub>(E)) from different
# dimensions *d* still share what distinguishes one dimension from another (each dimension has
# its own typical value). The value printed above is that floor; only the part of the curve above
# it can be leakage.

# %% [markdown]
# ## MINE on pixels (Fig. 4)
#
# Pairs are co-located patches of the original and of the clear part, flattened to vectors of
# 3 × `pixel_patch_size`² values (the paper flattens pixels but does not say how samples are
# formed; patches give enough samples). MINE maximises the Donsker–Varadhan bound with the
# moving-average bias-corrected gradient; the curves show the bound on held-out pairs. The
# samples are standardised but not rank-transformed (`estimate_mi`'s `ranks=False`, the default):
# normal scores fitted on the training split remove the heavy-tail misses of every estimator on
# continuous ground-truth tasks, but made 8 of 9 estimators worse on the integer-valued one, and
# pixels are integers (`bench/README.md`, "MI estimators against ground truth").

# %%
pixel_samples = sl.level_patches(pictures, levels, key, pixel_patch_size, pixel_patches_per_image, seed)
pixel_runs = cached(sl.mine_by_level)(pixel_samples, levels, **mine_options)
pixel_curves = {n: r.test_curve_bits for n, r in pixel_runs.items()}
plots.mine_curves_plot(pixel_curves, sl.relative_distance(pixel_curves),
                       f"MINE on flattened {pixel_patch_size}×{pixel_patch_size} pixel patches "
                       f"({len(pixel_samples[0]):,} pairs)");

# %% [markdown]
# ## MINE on CLIP and ResNet embeddings (Figs. 5–8)
#
# The same estimator on embeddings of co-located 224×224 patches: the encoder sees the original
# patch and the clear part's patch, and MINE estimates the MI between the two embeddings. A
# critic on 512 + 512 features needs thousands of pairs, more than the disjoint 224×224 patches
# of a few photographs: the `embedding_patches_per_image` positions of each image are drawn
# independently and uniformly, so **patches overlap** (neighbouring pairs share pixels and are
# not independent samples; the held-out split is over pairs, not over image regions).

# %%
start = time.perf_counter()
embeddings = cached(sl.embed_level_patches)(models, pictures, levels, key, 224, embedding_patches_per_image, seed,
                                    progress=False)
pairs = len(embeddings[encoders[0]][0])
print(f"embedded {pairs:,} patch pairs x {len(set(levels) | {0})} levels with {len(models)} encoder(s) "
      f"in {time.perf_counter() - start:.0f} s")
embedding_runs = {}
for name, model in models.items():
    embedding_runs[name] = cached(sl.mine_by_level)(embeddings[name], levels, **mine_options)
    curves = {n: r.test_curve_bits for n, r in embedding_runs[name].items()}
    plots.mine_curves_plot(curves, sl.relative_distance(curves),
                           f"MINE on {model.description} embeddings ({pairs:,} patch pairs)")

# %% [markdown]
# ## All estimators side by side
#
# Final estimates in bits (MINE: the held-out DV bound after the last epoch). The columns are
# on different scales — per pixel value, per image patch, per embedding — so compare how each
# responds to *n*, as the paper does, not their absolute values.

# %%
summary = pd.DataFrame({
    "histogram MI (bits/pixel)": photo_mi.groupby("n")["mi_bits"].mean(),
    f"rounded {clip_name} MI": similarity.groupby("n")["rounded_mi_bits"].first(),
    f"{clip_name} cosine": similarity.groupby("n")["cosine"].mean(),
})
summary = summary.join(sl.mine_table({"MINE pixels": pixel_runs,
                                      **{f"MINE {name}": runs for name, runs in embedding_runs.items()}}))
fits = pd.DataFrame({column: sl.linearity(summary.reset_index(), column) for column in summary.columns}).T
display(summary.round(3))
fits.round(3)

# %% [markdown]
# ## Does the verdict depend on the estimator?
#
# Every MINE number above comes from one estimator, so the paper's two claims — *MI is not
# linear in n* and *embeddings converge faster than pixels* — could belong to MINE rather than
# to the data. Here the same n-sweep (pixels and every encoder, the same pairs, epochs, batch and
# critic size) is re-run with each estimator in `estimators`: MINE (the Donsker–Varadhan bound),
# SMILE ({cite:t}`song2020smile`: the DV bound with its partition term clipped at τ) and InfoNCE
# ({cite:t}`oord2018infonce`: a contrastive bound that can never exceed log of its
# batch size), each with every seed in `seeds`; one batched run per estimator trains the critics
# of all levels and seeds together. Every value is the held-out bound the estimator reports.
#
# How the claims are measured: **not linear** — the straight line through the per-level means
# (over seeds) explains less than `linearity_r2` of their variance (R²); **converges faster** —
# the epoch at which a run's held-out curve first reaches `convergence_fraction` of the value it
# reports, averaged over levels (leaving out runs below `convergence_min_bits`, which have nothing
# to converge to) and then over seeds, is lower for every encoder than for pixels. Epochs, as in
# the paper's figures: an epoch of pixel pairs holds more optimiser steps than one of embeddings.

# %%
sweep_options = {k: v for k, v in mine_options.items() if k != "seed"}
own_options = {name: extra for name, extra in estimator_options.items() if name in estimators}
sweep_pixels = pixel_samples
if estimator_pixel_patches_per_image not in (None, pixel_patches_per_image):
    sweep_pixels = sl.level_patches(pictures, levels, key, pixel_patch_size, estimator_pixel_patches_per_image, seed)
    display(Markdown(
        f":::{{note}}\nTo fit the time budget, the comparison on pixels uses {len(sweep_pixels[0]):,} patch pairs "
        f"({estimator_pixel_patches_per_image} per image), not the {len(pixel_samples[0]):,} of Fig. 4, so its MINE "
        "column differs from Fig. 4's values. Set `estimator_pixel_patches_per_image = None` to use the same pairs.\n:::"))
sources = {"pixels": sweep_pixels, **embeddings}
sweep = sl.EstimatorSweep.concat([
    cached(sl.estimator_sweep)(samples, levels, estimators, seeds, source=source, options_by_estimator=own_options,
                       **sweep_options)
    for source, samples in sources.items()])
sweep_table = sl.sweep_summary(sweep, confidence)
for name, extra in own_options.items():
    print(f"{name} runs with " + ", ".join(f"{k}={v!r}" for k, v in extra.items()) + " (the others with the defaults)")
interval = "no interval: one seed" if len(seeds) == 1 else f"{confidence:.0%} Student-t interval over {len(seeds)} seeds"
plots.estimator_sweep_plot(sweep_table, f"Held-out estimates by estimator (mean, {interval})");
failed = sl.diverged_runs(sweep)
if len(failed):  # a diverged run is a result: shown, left out of the means, never a crash
    display(Markdown(f":::{{warning}}\n{len(failed)} of {len(sweep.table)} runs diverged and are left out of the "
                     "means (× in the figure, † in the table):\n\n" + "\n".join(
                         f"- {r.estimator} on {r.source}, n = {r.n}, seed {r.seed}: {r.diverged}"
                         for r in failed.itertuples()) + "\n:::"))
else:
    print(f"all {len(sweep.table)} runs converged (none diverged)")
shown = sweep_table.assign(estimate=[
    (f"{m:.2f} [{lo:.2f}, {hi:.2f}]" if len(seeds) > 1 else f"{m:.2f}") + (f" †{d}" if d else "")
    for m, lo, hi, d in sweep_table[["mean", "ci_low", "ci_high", "diverged"]].values])
shown.pivot_table(index=["source", "n"], columns="estimator", values="estimate", aggfunc="first", sort=False)

# %% [markdown]
# The table gives each mean estimate in bits with its interval across seeds in brackets (with a
# single seed there is no interval: the runs' spread cannot be measured from one run); †k marks a
# level where k runs diverged, left out of its mean. Whether a run diverged is judged on the
# training value of the estimator's *own* bound: an InfoNCE critic is defined only up to a shift
# c(y) that InfoNCE ignores, so its Donsker–Varadhan value can sit far below zero at n = 0 (where
# the clear part equals the image and InfoNCE is at its ceiling) without anything having exploded.
# (Judged on DV, two InfoNCE runs at n = 0 were stopped as "diverged" at epochs 3–4; judged on
# InfoNCE itself, every run trains.) At n = 0 the question is not well posed for a neural bound:
# every patch is unique, so the MI of a patch with itself is as large as the critic can make it —
# DV and MINE keep growing with training, SMILE's clip and InfoNCE's log K cap it — and the value
# at n = 0 describes the estimator more than the leak. What the
# numbers say about the two claims:

# %% tags=["hide-input"]
def sentence(finding):
    """One line of the reading, phrased from a finding's numbers (see `sl.estimator_findings`)."""
    n = finding.numbers
    if finding.kind == "linearity":
        shape = "not linear" if finding.holds else "close to linear" if finding.holds is False else "flat"
        return (f"{n['estimator']} on {n['source']}: slope {n['slope']:+.3f} bits per encrypted bit, "
                f"R² {n['r2']:.3f} — {shape} in n (threshold R² < {n['r2_threshold']:g}).")
    if finding.kind == "convergence":
        epochs = ", ".join(f"{source} {value:.1f}" for source, value in n["epochs"].items())
        verdict = {True: "embeddings converge faster than pixels, as the paper says",
                   False: "embeddings do not all converge faster than pixels",
                   None: "undetermined (a source has no level above the minimum)"}[finding.holds]
        return (f"{n['estimator']}: mean epoch to reach {n['fraction']:.0%} of the estimate — {epochs}: "
                f"{verdict}.")
    if finding.kind == "ceiling":
        return (f"{n['estimator']} on {n['source']} sits at its ceiling log₂(batch) = {n['ceiling_bits']:.2f} "
                f"bits at n = {', '.join(map(str, n['levels']))}: there it measures the batch size, not the MI, "
                "and flattens the curve.")
    claim = "MI is not linear in n" if n["claim"] == "linearity" else "embeddings converge faster than pixels"
    where = f" on {n['source']}" if n["source"] else ""
    holding = [e for e, v in n["verdicts"].items() if v]
    if finding.holds:
        return f"**\"{claim}\"{where} survives the change of estimator**: every estimator supports it."
    if n["agree"]:
        return f"**\"{claim}\"{where} is supported by no estimator** here."
    return (f"**\"{claim}\"{where} depends on the estimator**: supported by {', '.join(holding) or 'none'}, "
            f"not by {', '.join(e for e in n['verdicts'] if e not in holding)}.")


findings = sl.estimator_findings(sweep, r2_threshold=linearity_r2, fraction=convergence_fraction,
                                 min_bits=convergence_min_bits, confidence=confidence)
verdicts_first = sorted(findings, key=lambda f: f.kind != "survives")
display(Markdown("\n".join(f"- {sentence(f)}" for f in verdicts_first)))

# %% [markdown]
# ## Discussion
#
# The table above gives, for each estimator, the straight line that best fits its response to
# *n* and how well it fits (R² = 1: perfectly linear). The paper's findings, and what to compare
# them with here:
#
# - **Histogram MI is linear in n** (about −1 bit per encrypted bit, like uniform noise). This
#   holds by construction — the low bit-planes of natural images are close to uniform — and our
#   photographs follow the noise reference closely in Fig. 2.
# - **CLIP cosine similarity is uninformative; rounded CLIP features are not linear.** Rounding
#   is a crude discretisation and the pooled MI depends on `rounding_decimals`.
# - **MINE is not linear in n, and converges faster on embeddings than on pixels.** Our MINE
#   curves use far fewer images than the paper's 100 COCO photographs (and, in the default
#   profile, fewer patches and epochs), so the estimates are noisier and the held-out bounds are
#   lower than the paper's. Whether either claim belongs to MINE or to the data is read off the
#   estimator comparison above, claim by claim and source by source.
# - When the encoders are **randomly initialised** (see the warning above, if shown), the
#   embedding-level results measure what a random convolutional or transformer feature map
#   keeps, not what pretrained CLIP or ResNet features keep; they are not the paper's setting.
