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
# # One scorecard for every scheme: do the criteria agree?
#
# Each of the papers in this book judges encryption with its own yardstick: mutual information
# for selective encryption {cite:p}`messadi2025selective`, information content and the accuracy
# of a trained model for the Random Vortex Transformation {cite:p}`cao2024rvt`, and the SSIM of
# attack reconstructions for learnable encryption {cite:p}`sirichotedumrong2020visual`. Papers on
# image ciphers add a battery of statistical tests: entropy, local entropy, the correlation of
# neighbouring pixels, NPCR and UACI with the randomness tests of {cite:t}`wu2011npcr`,
# local entropy with the test of {cite:t}`wu2013local`, and a χ² test of a flat histogram. This chapter puts **every scheme of the library through all
# of them at once** — the scorecard behind `imgleak evaluate` — and asks what the field rarely
# asks: do these criteria rank the schemes the same way, and does a scheme that passes the
# statistical tests also resist an attack?
#
# | family | measurements (one row of the scorecard each) | leaks more when |
# |---|---|---|
# | statistical | entropy, local entropy, \|r\| of adjacent pixels (3 directions), NPCR, \|UACI − expected\|, χ²/dof of the histogram | entropy, local entropy and NPCR lower; the others higher |
# | information | histogram MI between plain and cipher pixels (and its excess over shuffled pairs), MINE on pixel patches and on patch embeddings, information-loss rate | MI higher; loss rate lower |
# | attacks | SSIM and PSNR of FR-, ITN- and GAN-Attack reconstructions and of the cipher image itself, the best of them; mid-grey and mean-image baselines | higher |
# | key | key space (bits), key sensitivity (distance of the changed share from 50 %) | space lower; distance higher |
# | utility, cost | accuracy of a classifier trained on encrypted digits (and on plain ones); encryption throughput | not leakage |
#
# | games (the cheap attacks) | share of plaintext bits recovered by keystream reuse from one known pair; advantage of a distinguishing game; share of samples equal when the same image is encrypted again; key space estimated from colliding cipher images | higher (key space: lower) |
#
# Two controls anchor every scale: `identity` (no protection at all) and a one-time pad
# (`one_time_pad`: ChaCha20 XOR of all 8 bits of every pixel). Every measurement is **judged
# against them** (section 1): against an exact null where the criterion has one (a random cipher:
# entropy, local entropy, |r|, χ², NPCR/UACI, key sensitivity, the games), otherwise against the
# pad's own values over the seeds, each with the attacker it assumes. The verdict is `leaks`,
# `random`, or `inconclusive` when even the controls are not told apart at this budget — which says
# the criterion cannot judge, never that a scheme is secure. Two choices of ours: NPCR and UACI pool
# every image and channel of a seed into one test of N·C·H·W samples (Wu et al.'s formulas are for
# one pair of images of n samples; pooling keeps one test per seed instead of N), and the changed
# image is encrypted as a message of its own, as a chosen-plaintext attacker would get it; the χ²
# test of the histogram is two-sided, so a histogram too flat to be random fails too. Section 2 keeps the older view: a
# **leak score** per measurement, the mean over seeds rescaled across the schemes of this run (0
# leaks least, 1 most), relative to the schemes compared and blind to noise.
#
# Two caveats hold throughout:
#
# - **The images are crops of the photographs bundled with the installed packages** (set `images`
#   to a folder of your own), and the sizes of every criterion — crops, MINE epochs, attack and
#   classifier training — come from one *budget* (`imgleak.scorecard.base.BUDGETS`). The book's
#   `quick` and `default` profiles use the `quick` budget, whose networks train briefly (the ITN
#   and GAN attacks 4 epochs of 128 crops, the digit classifier 5 epochs of 400 digits — enough
#   for the attacks to reconstruct `identity` and `blockwise` well above the guesses, and for the
#   classifier to learn the plain digits): a weak attack here is a short attack, not proof of a
#   strong scheme (see the run settings below and the discussion). The `default` budget took 27 minutes for every scheme and criterion at one
#   seed on our busy 2-core CPU (about 18 CPU-minutes; `bench/README.md`), so about an hour for this
#   chapter's three seeds: run it with `imgleak evaluate --budget default`, or this chapter with
#   `budget = "default"`. The `paper`
#   profile uses the `paper` budget, meant for a GPU.
# - **Your own scheme joins with one parameter**: `extra_schemes = ["mypkg.ciphers:mine"]` (or
#   `imgleak book --chapter leakage_benchmark -p extra_schemes '["mypkg.ciphers:mine"]'`) imports
#   a Cipher or a plain function `f(images, key) -> images` and checks it before spending time on
#   it; `imgleak evaluate` gives the same scorecard from the command line.

# %% [markdown]
# The parameters of this chapter are in the folded cell below (open it to read them); when the
# book's profile changes some of them, the values of this run follow in a second folded cell.
# Change them for one run with `imgleak book --chapter leakage_benchmark -p <name> <value>`, or for
# a whole profile in `book/profiles/<profile>.yaml`. The run itself is one call of
# {py:func}`~imgleak.scorecard.evaluate.evaluate`, the function behind `imgleak evaluate`.

# %% tags=["parameters", "hide-input"]
budget = "quick"  # sizes of every criterion: quick, default or paper (imgleak.scorecard.base.BUDGETS)
budget_overrides = {}  # single sizes of that budget to change, e.g. {"attack_epochs": 2}
seeds = [0, 1]  # every cell runs once per seed (crops, keys and networks are drawn from it)
schemes = None  # library scheme names (imgleak.scorecard.schemes.library_schemes()); None: all of them
extra_schemes = []  # a reader's own schemes as "package.module:attribute" (a Cipher, or f(images, key) -> images)
criteria = None  # criterion cells (imgleak.scorecard.runner.all_criteria()); None: all of them
images = None  # a folder of the reader's images; None: the bundled photographs
workers = 0  # 0: serial; N: a dask.distributed LocalCluster of N worker processes
device = "auto"  # auto: CUDA when available
num_threads = 1  # CPU threads of a serial run; 1 is often fastest on a busy 2-core machine
gallery = True  # also run the gallery of deliberately broken schemes (imgleak.scorecard.gallery) on the cheap criteria
gallery_criteria = ["entropy", "local_entropy", "correlation", "npcr_uaci", "histogram_uniformity", "known_plaintext",
                    "distinguishing_game", "determinism", "empirical_key_space", "key_space", "key_sensitivity"]

# %% tags=["hide-input"]
import dataclasses
import tempfile

import pandas as pd
import torch
from IPython.display import Markdown, display
from matplotlib_inline.backend_inline import set_matplotlib_formats

from imgleak.experiments.benchmark import verdict_findings
from imgleak.scorecard import analysis, figures, runner
from imgleak.scorecard import gallery as broken
from imgleak.scorecard import schemes as library
from imgleak.scorecard import verdicts as judge
from imgleak.scorecard.evaluate import evaluate

set_matplotlib_formats("png")  # display(fig) shows the scorecard's figures (made without pyplot) as images
torch.set_num_threads(num_threads)
sizes = dataclasses.replace(runner.check_budget(budget), **budget_overrides)
names = list(library.library_schemes()) if schemes is None else list(schemes)
workdir = tempfile.TemporaryDirectory(prefix="imgleak-benchmark-")  # removed when the kernel ends
out_dir = workdir.name

# %%
result = evaluate(names + list(extra_schemes), criteria=criteria, images=images, budget=sizes, seeds=seeds,
                  out_dir=out_dir, workers=workers or None, device=device)
table, judged, subjects, chosen, elapsed = result.table, result.verdicts, result.subjects, result.criteria, result.seconds
files = result.paths
failed = table[table["error"] != ""]
display(Markdown(
    f"{len(subjects)} schemes × {len(chosen)} criterion cells × {len(runner.check_seeds(seeds))} seed(s) = "
    f"{table['cell'].nunique()} cells, {len(table)} measurements, in {elapsed / 60:.1f} min "
    f"({'serial' if not workers else f'{workers} dask workers'}); {failed['cell'].nunique()} cell(s) failed. "
    f"Budget `{budget}`{' with ' + str(budget_overrides) if budget_overrides else ''}: "
    f"{sizes.images} crops of {sizes.size}×{sizes.size} pixels per seed, MINE {sizes.mine_epochs} epochs, attacks "
    f"{sizes.attack_train} training crops × {sizes.attack_epochs} epoch(s) (GAN {sizes.gan_epochs}), classifier "
    f"{sizes.utility_train} digits × {sizes.utility_epochs} epoch(s). The same run as files, the way "
    f"`imgleak evaluate` writes them: {', '.join(f'`{p.name}`' for p in files.values())}."))
if not failed.empty:
    display(failed[["scheme", "criterion", "seed", "error"]].drop_duplicates())

# %% [markdown]
# ## 1. Verdicts: which scheme is broken, and by which attacker
#
# One cell per scheme and leakage measurement, seeds pooled, columns grouped by the attacker the
# measurement assumes: `statistical` (cipher images only, no learning), `ciphertext-only` (learning
# attacks and MI estimators), `known-plaintext`, `chosen-plaintext` (differential tests and the
# games) and `key`. The number under each verdict is the **effect** on the controls' scale (0 = the
# pad, 1 = no encryption; outside [0, 1] is allowed) and the one-sided p-value after Holm's
# correction across that scheme's measurements — Holm rather than Benjamini–Hochberg because a
# verdict is a claim about one scheme ("it leaks somewhere"), which needs the family-wise error
# rate, and because correcting within a scheme keeps its verdicts independent of which other
# schemes are in the run. Analytic nulls from different seeds are combined by Fisher's method; the
# other measurements are compared with the pad's seeds by Welch's t-test.

# %% tags=["hide-input"]
def p_text(p):
    """An adjusted p-value as text: below 1e-15 a double cannot say how far below, so it says so;
    none for a threshold verdict (the declared key space)."""
    if p != p:
        return "none (a threshold)"
    return "<1e-15" if p < 1e-15 else f"{p:.1g}"


def verdict_grid(judged):
    """Scheme × measurement, grouped by adversary, each cell 'verdict (effect, p_adj)', coloured."""
    shown = judged[judged["verdict"] != ""].copy()
    order = shown.drop_duplicates("criterion").sort_values(["adversary", "family"], kind="stable")
    shown["cell"] = [f"{v} ({e:.2f}, p {p_text(p)})" if e == e and p == p else (f"{v} ({e:.2f})" if e == e else v)
                     for v, e, p in shown[["verdict", "effect", "p_adjusted"]].values]
    grid = shown.pivot(index="scheme", columns=["adversary", "criterion"], values="cell")
    grid = grid.reindex(index=list(pd.unique(shown["scheme"])),
                        columns=pd.MultiIndex.from_frame(order[["adversary", "criterion"]]))
    colours = {"leaks": "background-color: #f4c7c3", "random": "background-color: #cde8cd",
               "inconclusive": "background-color: #eeeeee; color: #666"}
    return grid.style.map(lambda text: colours.get(str(text).split(" ")[0], ""))


def finding_sentence(f):
    """One line per finding of imgleak.experiments.benchmark.verdict_findings."""
    n = f.numbers
    if f.kind == "controls":
        if f.holds:
            return "The controls behave: identity is never judged random and the one-time pad never leaks."
        return (f"Warning — the controls misbehave: identity random on {n['identity_random'] or 'nothing'}, "
                f"the pad leaks on {n['pad_leaks'] or 'nothing'}; read the verdicts with care.")
    if f.kind == "broken":
        quoted = "; ".join(f"{e['criterion']} ({e['adversary']}, effect {e['effect']:.2f}, p_adj {p_text(e['p_adjusted'])})"
                           for e in n["evidence"])
        return (f"**{n['scheme']} leaks** on {n['leaks']} measurement(s), found by a {', '.join(n['adversaries'])} "
                f"attacker — strongest: {quoted}.")
    if f.kind == "no_leak_found":
        return (f"{n['scheme']}: no leak found ({n['random']} random, {n['inconclusive']} inconclusive) — at this "
                "budget, which is not a proof of security.")
    return f"*{n['criterion']}* is inconclusive for every scheme here: {n['reason']}."


# %%
display(verdict_grid(judged))
display(Markdown("\n".join(f"- {finding_sentence(f)}" for f in verdict_findings(judged))))

# %% [markdown]
# ### The gallery of broken schemes
#
# The verdicts should catch real mistakes. The gallery (`imgleak.scorecard.gallery`) holds
# deliberately broken schemes beside a correct per-image ChaCha20 XOR written independently of the
# library's pad; they run on the cheap criteria only (`gallery_criteria`: the statistical tests,
# the games and the key), with the same seeds.

# %%
if gallery:
    gallery_dir = tempfile.TemporaryDirectory(prefix="imgleak-gallery-")
    shown_gallery = evaluate([], extra=[*broken.broken_schemes().values(), broken.secure_reference()],
                             criteria=gallery_criteria, images=images, budget=sizes, seeds=seeds,
                             out_dir=gallery_dir.name, device=device, progress=False)
    display(Markdown("\n".join(f"- **{name}**: {text}" for name, text in broken.what_is_wrong().items())))
    display(verdict_grid(shown_gallery.verdicts))
    display(Markdown("\n".join(f"- {finding_sentence(f)}" for f in verdict_findings(shown_gallery.verdicts))))
else:
    print("gallery = False: the broken schemes were not run")

# %% [markdown]
# ### How many seeds?
#
# Measurements with an exact null decide from one seed. The others are compared with the pad over
# the seeds; the table gives the power of that comparison to call a leak of a given size (in
# standard deviations of the seeds' values) when it must survive Holm's correction over 20
# measurements. `imgleak evaluate` defaults to 5 seeds; this chapter runs `seeds`.

# %%
display(judge.power_table().style.format("{:.2f}").set_caption(
    f"Power at family-wise α = {judge.ALPHA} over 20 measurements, by seeds and effect size"))

# %% [markdown]
# ### Where the measurements disagree
#
# Both ways: one attacker's measurements all call a scheme random while another's find a leak
# (statistical tests passed while keystream reuse recovers the image, or an attack that fails
# while a test rejects), and splits within one family (e.g. horizontal against vertical
# correlation).

# %%
split = judge.disagreements(judged)
if split.empty:
    print("Every scheme's judged measurements agree.")
else:
    display(split.style.hide(axis="index"))

# %% [markdown]
# ## 2. The leak scores (relative to this run)
#
# Rows are schemes, columns the leakage measurements; 1 (dark) marks the scheme that leaks most on
# that measurement, 0 the one that leaks least. A blank cell is a measurement on which every scheme
# scored the same (it cannot rank them) or a cell that failed.

# %%
scores = analysis.leak_scores(table)
display(figures.leak_heatmap(scores))
means = analysis.summary(table)
other = means[means["leaks_more"] == "none"]
if not other.empty:
    display(other.pivot(index="scheme", columns="criterion", values="mean")
            .reindex(index=list(pd.unique(other["scheme"])), columns=list(pd.unique(other["criterion"])))
            .style.format(precision=3).set_caption("Not leakage: means over seeds (accuracy as a fraction, "
                                                    "throughput in images/s, baselines in SSIM)"))

# %% [markdown]
# The statistical tests' verdicts: the share of seeds in which each test called the cipher images
# random, at α = 0.05: NPCR and UACI against the critical values of Wu, Noonan and Agaian, local
# entropy against the acceptance interval of a mean of k random blocks, the histogram by χ².

# %%
tests = analysis.verdicts(table)
if tests.empty:
    print("No statistical test ran (criteria without a verdict).")
else:
    display(tests.pivot(index="scheme", columns="test", values="pass_share")
            .reindex(index=list(pd.unique(tests["scheme"])), columns=list(pd.unique(tests["test"])))
            .style.format("{:.0%}").background_gradient(cmap="Greens", vmin=0, vmax=1))

# %% [markdown]
# ## 3. Do the criteria agree?
#
# Kendall's τ between every pair of leakage measurements, computed on the schemes' leak scores (so
# that τ = 1 means two measurements put the schemes in the same order, whichever direction each
# counts as leaking, and τ = −1 the reverse order). The table below it averages τ within and
# between families of criteria.

# %%
agreement = analysis.criteria_agreement(table)
defined = agreement.dropna(subset=["tau"])
if defined.empty:
    print("Fewer than two leakage measurements with a spread: no rank correlation to show.")
else:
    display(figures.agreement_heatmap(agreement))
    families = dict(zip(table["criterion"], table["family"]))
    by_family = analysis.family_agreement(agreement, families)
    display(by_family.style.format(precision=2, subset=["mean_tau", "min_tau", "max_tau"]).hide(axis="index"))

# %% [markdown]
# ## 4. Utility against leakage
#
# A scheme is useful when a classifier trained on its encrypted images is still accurate. The
# leak score of a scheme is the mean of its leak scores over all leakage measurements; the Pareto
# front joins the schemes that no other scheme beats on both (more accurate *and* leaking less).

# %%
trade = None
if analysis.UTILITY in set(table["criterion"]):
    trade = analysis.utility_vs_leakage(table)
    plain = means.loc[means["criterion"] == "plain_accuracy", "mean"]
    display(figures.utility_leakage_plot(trade, plain.mean() if not plain.empty else None))
    display(trade.sort_values("leak").style.format(precision=3, subset=["accuracy", "accuracy_sd", "leak"]))
else:
    print("The utility criterion did not run: no accuracy to set against leakage.")

# %% [markdown]
# ## 5. Discussion
#
# Written from this run's numbers (each sentence is formatted from the tables above).


# %% tags=["hide-input"]
def controls_sentence(scores, tolerance=0.05):
    """Whether identity and the one-time pad sit at the ends of every leakage measurement."""
    try:
        ends = analysis.controls(scores, library.IDENTITY, library.ONE_TIME_PAD, tolerance)
    except ValueError:
        return "The run leaves out a control, so the scale has no fixed ends; add identity and one_time_pad."
    good = ends["top_ok"] & ends["bottom_ok"]
    text = (f"On {int(good.sum())} of the {len(ends)} leakage measurements that rank every scheme, identity leaks "
            f"most and the one-time pad least (within {tolerance} of the ends of the scale), as the controls should.")

    def listed(rows, column):
        shown = [f"{c} ({rows.loc[c, column]})" for c in rows.index[:8]]
        return ", ".join(shown) + (f" and {len(rows) - 8} more" if len(rows) > 8 else "")

    if not ends["top_ok"].all():
        text += f" Some scheme leaks more than identity on {listed(ends[~ends['top_ok']], 'most')}."
    if not ends["bottom_ok"].all():
        text += f" Some scheme leaks less than the pad on {listed(ends[~ends['bottom_ok']], 'least')}."
    if not good.all():
        text += (" A measurement on which a scheme leaks more than no protection, or clearly less than a one-time "
                 "pad, ranks something other than what an attacker can read back: read those columns of the heat "
                 "map with that in mind.")
    return text


def agreement_sentences(agreement, by_family):
    """How well the criteria agree, overall and family by family."""
    defined = agreement.dropna(subset=["tau"])
    if defined.empty:
        return ["Too few measurements with a spread to compare rankings."]
    n = int(defined["schemes"].max())
    strong = defined[(defined["tau"] >= 0.5) & (defined["p_value"] < 0.05)]
    lines = [f"Over {len(defined)} pairs of measurements (up to {n} schemes each), the median τ is "
             f"{defined['tau'].median():.2f}; {len(strong)} pairs ({len(strong) / len(defined):.0%}) agree strongly "
             "(τ ≥ 0.5, p < 0.05)."]
    within = by_family[by_family["family_a"] == by_family["family_b"]].sort_values("mean_tau", ascending=False)
    between = by_family[by_family["family_a"] != by_family["family_b"]].sort_values("mean_tau")
    if not within.empty:
        lines.append("Within a family the mean τ is " + ", ".join(
            f"{r.mean_tau:.2f} ({r.family_a})" for r in within.itertuples()) + ".")
    if not between.empty:
        lines.append("Between families it is " + ", ".join(
            f"{r.mean_tau:.2f} ({r.family_a} vs {r.family_b})" for r in between.itertuples())
            + f": the least agreement is between {between.iloc[0].family_a} and {between.iloc[0].family_b}.")
    worst = defined.nsmallest(3, "tau")
    lines.append("The most discordant pairs: " + "; ".join(
        f"{r.criterion_a} vs {r.criterion_b} (τ = {r.tau:.2f}, {r.schemes} schemes)" for r in worst.itertuples())
        + ".")
    return lines


def utility_sentence(trade, means):
    """The Pareto front of accuracy against leakage, after checking that the classifier learned at all."""
    if trade is None or trade.empty:
        return "No utility numbers in this run."
    plain = means.loc[means["criterion"] == "plain_accuracy", "mean"]
    chance = 0.1  # ten digit classes
    if not plain.empty and plain.mean() < 2 * chance:
        return (f"The classifier did not learn even the plain digits (accuracy {plain.mean():.2f}; chance "
                f"{chance:.2f}) with {sizes.utility_train} digits × {sizes.utility_epochs} epoch(s): at this budget "
                "the utility axis says nothing, and the Pareto front above only sorts noise. A larger budget "
                "(`budget_overrides`, or the `default` budget) is needed for this question.")
    front = trade[trade["pareto"]].sort_values("leak")
    listed = ", ".join(f"{s} (accuracy {r.accuracy:.2f}, leak {r.leak:.2f})" for s, r in front.iterrows())
    text = (f"On the Pareto front of accuracy against mean leak score (plain digits: {plain.mean():.2f}): "
            f"{listed}.")
    protecting = trade.drop(index=[library.IDENTITY, library.ONE_TIME_PAD], errors="ignore")
    if protecting["pareto"].any():
        best = protecting[protecting["pareto"]].sort_values("accuracy", ascending=False).iloc[0]
        text += (f" Of the schemes that protect at all, {best.name} keeps the most accuracy on the front "
                 f"({best.accuracy:.2f}) at a mean leak score of {best.leak:.2f}.")
    return text


lines = [controls_sentence(scores)]
if not defined.empty:
    lines += agreement_sentences(agreement, by_family)
if split.empty:
    lines.append("Every scheme's judged measurements agree, across attackers and within families.")
else:
    lines.append(f"{split['scheme'].nunique()} scheme(s) look different to different attackers (section 1): "
                 + "; ".join(f"{r.scheme}: {r.kind}" for r in split.drop_duplicates(["scheme", "kind"]).head(6).itertuples())
                 + (" and more" if len(split) > 6 else "") + ".")
lines.append(utility_sentence(trade, means))
lines.append(f"All of this is the `{budget}` budget over {len(runner.check_seeds(seeds))} seed(s): the attacks and "
             f"classifiers trained for {sizes.attack_epochs} and {sizes.utility_epochs} epoch(s), so schemes that "
             "resist them here may fall to a longer attack; the standard deviations over seeds are in the report "
             "(`report.html`) and `imgleak evaluate --budget default` (or `paper` on a GPU) repeats the run at "
             "larger sizes.")
display(Markdown("\n".join(f"- {line}" for line in lines)))
