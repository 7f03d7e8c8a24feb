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
# # Score your own scheme
#
# The scorecard of the previous chapter is not only for the library's schemes: any image cipher
# written in a few lines of Python can be put through the same criteria, judged against the same
# two controls (`identity`, which leaks everything, and `one_time_pad`, which leaks nothing). This
# chapter does it step by step with a scheme of our own:
#
# 1. write it, once as a plain function and once as a class on the library's
#    {py:class}`~imgleak.ciphers.base.Cipher` interface;
# 2. let the checks refuse a broken draft, by the name of the check it fails;
# 3. score it beside the controls, from Python ({py:func}`~imgleak.scorecard.evaluate.evaluate`) and
#    from the command line (`imgleak evaluate`);
# 4. read its verdicts and the evidence behind them;
# 5. fix it and see what changes.
#
# Each step calls the library; the helpers that turn verdicts into the tables below are in
# {py:mod}`imgleak.experiments.own_scheme`.

# %% [markdown]
# The parameters of this chapter are in the folded cell below (open it to read them). Change them
# for one run with `imgleak book --chapter score_your_own_scheme -p seeds 3`, or for a whole
# profile in `book/profiles/<profile>.yaml`; the values of this run follow them.

# %% tags=["parameters", "hide-input"]
budget = "quick"  # sizes of every criterion: quick, default or paper (imgleak.scorecard.base.BUDGETS)
seeds = 2  # seeds 0 … seeds-1: every cell runs once per seed
criteria = ["entropy", "local_entropy", "correlation", "npcr_uaci", "histogram_uniformity", "known_plaintext",
            "distinguishing_game", "determinism", "empirical_key_space", "key_space", "key_sensitivity"]
command_line = True  # also run the equivalent `imgleak evaluate` command (a subprocess: seconds more)
device = "cpu"  # where the criteria run: cpu, cuda or auto

# %% tags=["hide-input"]
import shlex
import sys
import tempfile
from pathlib import Path

import torch
from IPython.display import Markdown, display

from imgleak.experiments import own_scheme
from imgleak.keys import Key, keystream_bytes
from imgleak.scorecard.evaluate import evaluate
from imgleak.scorecard.schemes import FunctionCipher

workdir = tempfile.TemporaryDirectory(prefix="imgleak-own-scheme-")  # removed when the kernel ends
folder = Path(workdir.name)
scheme_file = folder / "my_scheme.py"
sys.path.insert(0, str(folder))  # so that `my_scheme` imports here, as it would from your own package


def styled(table, caption):
    """A verdict table coloured by verdict."""
    colours = {"leaks": "background-color: #f4c7c3", "random": "background-color: #cde8cd",
               "inconclusive": "background-color: #eeeeee; color: #666"}
    return (table.style.format(escape="html").map(lambda text: colours.get(str(text).split(" ")[0], ""))
            .set_caption(caption))


# %% [markdown]
# ## 1. A scheme in ten lines
#
# Our scheme XORs every pixel with a ChaCha20 keystream drawn from the key
# ({py:func}`imgleak.keys.keystream_bytes`). A scheme is either a **plain function**
# `f(images, key) -> images` (uint8 `(N, C, H, W)` in and out; the key is an imgleak
# {py:class}`~imgleak.keys.Key`), or a **class** on the {py:class}`~imgleak.ciphers.base.Cipher`
# interface, which can also say whether it is invertible, how large its key space is and which
# image of the data set it is encrypting (`first_index`). We write both in a module, as you would
# in your own package, so that `imgleak evaluate` can import them as `my_scheme:one_pad` and
# `my_scheme:PerImagePad`.

# %%
# %%writefile {scheme_file}
import numpy as np
import torch

from imgleak.ciphers import CipherBase
from imgleak.keys import keystream_bytes


def one_pad(images, key):
    """Every image XORed with the keystream of the key: one pad for the whole data set."""
    pad = keystream_bytes(key, images[0].numel())
    return images ^ torch.from_numpy(pad).view(images.shape[1:]).to(images.device)


class PerImagePad(CipherBase):
    """Image i of the data set XORed with the keystream under nonce i: a pad per image."""
    name = "per_image_pad"
    invertible, per_image_keys = True, True

    def encrypt(self, x, key, *, first_index=0):
        batch = x if x.dim() == 4 else x[None]
        pads = [keystream_bytes(key, batch[0].numel(), nonce=first_index + i) for i in range(len(batch))]
        y = batch ^ torch.from_numpy(np.stack(pads)).view(batch.shape).to(x.device)
        return y if x.dim() == 4 else y[0]

    decrypt = encrypt  # XOR is its own inverse

    def key_space_log2(self, shape):
        return 256.0


# %%
import my_scheme  # noqa: E402  (the module written above)

# %% [markdown]
# ## 2. The checks refuse a broken draft
#
# Before spending any time on a scheme, the scorecard runs it through a few checks
# ({py:func}`~imgleak.scorecard.schemes.check_scheme`): it must run, return a uint8 tensor of the
# same shape on the same device, leave the plain images untouched, give the same output for the
# same key and another output for another key. Here is a first draft that XORs *in place* — it
# writes into the images it was given — and one that forgets the key altogether. Each is refused
# with the name of the check it fails ({py:func}`~imgleak.experiments.own_scheme.refusal` returns
# the message of the `ValueError`):

# %%
def in_place_draft(images, key):
    images ^= torch.from_numpy(keystream_bytes(key, images[0].numel())).view(images.shape[1:])
    return images


def keyless_draft(images, key):
    return images ^ 0x5A


for draft in (in_place_draft, keyless_draft):
    print(own_scheme.refusal(FunctionCipher(draft, draft.__name__), draft.__name__))
print("my_scheme:one_pad passes:", own_scheme.refusal(FunctionCipher(my_scheme.one_pad, "one_pad"), "one_pad") == "")
print("my_scheme:PerImagePad passes:", own_scheme.refusal(my_scheme.PerImagePad(), "PerImagePad") == "")

# %% [markdown]
# ## 3. Score it beside the controls
#
# From Python, one call: the controls join the run by themselves, every verdict is judged against
# them, and the run's files (`scorecard.csv`, `verdicts.csv`, `scorecard.json`, `report.html`) are
# written to `out_dir`. The criteria here are the cheap ones (the statistical tests, the games of
# a known- or chosen-plaintext attacker, and the key); add `histogram_mi`, `mine_pixels`,
# `attacks` or `utility` to `criteria` for the learned attacks and estimators (minutes more).

# %%
draft = "my_scheme:one_pad"
run = evaluate([draft], criteria=criteria, budget=budget, seeds=seeds, out_dir=folder / "python-run",
               device=device, progress=False)
display(Markdown(f"{len(run.subjects)} schemes × {len(run.criteria)} criterion cells × {seeds} seed(s), "
                 f"{len(run.table)} measurements in {run.seconds:.0f} s."))
display(styled(own_scheme.verdict_table(run.verdicts, ["identity", "one_time_pad", draft]),
               f"Verdicts of {draft} beside the controls (effect on the controls' scale, Holm-adjusted p)"))

# %% [markdown]
# The same run from the command line — the command below is what this cell runs (in a
# subprocess, with the folder of `my_scheme.py` on `PYTHONPATH`); its verdicts are read back from
# the `verdicts.csv` it writes:

# %%
command = own_scheme.evaluate_command([draft], out=folder / "command-run", budget=budget, seeds=seeds,
                                      criteria=criteria, device=device)
print(f"PYTHONPATH={shlex.quote(str(folder))} {shlex.join(command)}")
if command_line:
    from_command = own_scheme.run_command(command, path=folder)
    same = own_scheme.compare_verdicts(run.verdicts, from_command, draft, draft)
    print(f"the command judged {len(same)} measurements of {draft}; "
          f"{int((~same['changed']).sum())} verdicts are the same as from Python")
else:
    print("command_line = False: the command was not run")

# %% [markdown]
# ## 4. Reading the verdicts
#
# A row is a measurement, grouped by the attacker it assumes: `statistical` (cipher images only),
# `known-plaintext`, `chosen-plaintext` and `key`. `random` means the measurement could not tell
# the scheme from the pad at this budget; `leaks` that it could, with the **effect** on the
# controls' scale (0 = the pad, 1 = no encryption) and the one-sided p-value after Holm's
# correction over the scheme's measurements. The evidence, strongest first:

# %%
leaks = own_scheme.evidence(run.verdicts, draft)
display(Markdown("\n".join(f"- {line}" for line in leaks) if leaks else f"No leak found in {draft}."))
found = own_scheme.leaks_by_adversary(run.verdicts, draft)
display(Markdown(f"Who finds a leak in `{draft}`: " + "; ".join(
    f"the {adversary} attacker on {n} of {judged} measurement(s)" for adversary, (n, judged) in found.items()) + "."))

# %% [markdown]
# Why the attackers disagree: a single cipher image of `one_pad` is as random as the pad's, so the
# statistical tests, which look at one image at a time, have nothing to find. One pad for the
# whole data set is a *two-time pad*: XOR two cipher images and the pad cancels, one known
# plaintext gives the pad away, and the same image always encrypts to the same cipher image —
# which the known- and chosen-plaintext games measure.

# %% [markdown]
# ## 5. Fix it and score it again
#
# `PerImagePad` draws a new pad for every image of the data set (the ChaCha20 nonce is the
# image's index, `first_index + i`), and declares its key space. Same criteria, same seeds:

# %%
fixed = "my_scheme:PerImagePad"
fixed_run = evaluate([fixed], criteria=criteria, budget=budget, seeds=seeds, out_dir=folder / "fixed-run",
                     device=device, progress=False)
display(styled(own_scheme.verdict_table(fixed_run.verdicts, ["identity", "one_time_pad", fixed]),
               f"Verdicts of {fixed} beside the controls"))
changes = own_scheme.compare_verdicts(run.verdicts, fixed_run.verdicts, draft, fixed)
display(changes[changes["changed"]].style.hide(axis="index").set_caption(
    f"What the fix changed: {draft} (before) and {fixed} (after)"))
still = own_scheme.evidence(fixed_run.verdicts, fixed)
display(Markdown(f"After the fix, {fixed} leaks on: " + "; ".join(still) if still else
                 f"After the fix, no leak found in {fixed} at the `{budget}` budget with {seeds} seed(s) — "
                 "which is not a proof of security: a larger budget, more seeds and the learned criteria "
                 "test it harder."))
