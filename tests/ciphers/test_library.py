"""The table of scheme variants (ciphers/library.py), what cipher classes declare, and a scheme registered
with one line showing up everywhere: the conformance suite, the scorecard, ``imgleak evaluate --help``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from imgleak import ciphers
from imgleak.ciphers import VARIANTS, Variant
from imgleak.ciphers.base import declared_network

ROOT = Path(__file__).parents[2]


def test_the_table_pins_every_variant_and_its_settings():
    table = {v.name: (v.cipher, dict(v.params)) for v in VARIANTS}
    assert table == {
        "identity": ("identity", {}), "one_time_pad": ("selective", {"bits": 8}),
        **{f"selective-{n}": ("selective", {"bits": n}) for n in range(1, 8)},
        "rvt-faithful": ("rvt", {"mode": "faithful"}), "rvt-invertible": ("rvt", {"mode": "invertible"}),
        "permutation-per-image": ("permutation", {"per_image": True}),
        "permutation-fixed": ("permutation", {"per_image": False}),
        "blockwise": ("blockwise", {}), "pixelwise-same": ("pixelwise", {"mode": "same"}),
        "pixelwise-different": ("pixelwise", {"mode": "different"}), "etc": ("etc", {"block": 16, "mode": "same"}),
        "tn_model": ("tn_model", {}), "tn_gan": ("tn_gan", {}),
    }
    rows = {v.paper_row: v.label for v in VARIANTS if v.paper_row}
    assert rows == {"tanaka": "Tanaka's scheme", "pixelwise_same": "Pixel-wise, same key",
                    "pixelwise_different": "Pixel-wise, different keys", "etc": "EtC (block scrambling)",
                    "tn_model": "TN-model", "tn_gan": "TN-GAN"}
    assert ciphers.build("etc") == ciphers.get("etc")  # the table's EtC is the cipher's defaults
    assert set(ciphers.variants()) == {v.name for v in VARIANTS}  # every library cipher has a variant


def test_a_variants_params_are_its_own_copy():
    params = {"bits": 2}
    variant = Variant("two", "selective", params)
    params["bits"] = 5
    assert variant.params == {"bits": 2} and ciphers.build(variant).bits == 2


def test_build_names_what_it_does_not_know():
    with pytest.raises(ValueError, match="unknown scheme variant 'selective-9'"):
        ciphers.build("selective-9")
    with pytest.raises(TypeError, match="variant must be a name or a Variant, got int"):
        ciphers.build(3)
    with pytest.raises(ValueError, match="is a library scheme"):
        ciphers.unregister("selective")
    with pytest.raises(ValueError, match="no scheme named 'nothing' is registered"):
        ciphers.unregister("nothing")


def test_cipher_classes_declare_their_attack_networks_and_learned_keys():
    declared = {name: (declared_network(ciphers.get(name), "itn"), declared_network(ciphers.get(name), "gan"))
                for name in ciphers.available()}
    assert {name: nets for name, nets in declared.items() if nets != (None, None)} == {
        "pixelwise": ("locally_connected", "conv1x1"), "blockwise": ("block", "block"), "etc": ("block", "block"),
        "tn_model": ("unet", "unet"), "tn_gan": ("unet", "unet")}
    assert [name for name in ciphers.available() if ciphers.scheme_class(name).learned_key] == ["tn_gan", "tn_model"]
    assert declared_network(object(), "itn") is None  # a user's cipher declares nothing


def test_every_learned_scheme_has_a_trainer():
    from imgleak.training.transform_nets import KEY_TRAINING

    assert sorted(KEY_TRAINING) == [n for n in ciphers.available() if ciphers.scheme_class(n).learned_key]


# ------------------------------------------------------------------------------------ a throw-away scheme

SCHEME = "throwaway_shift"
SOURCE = textwrap.dedent(f'''
    """A throw-away keyed scheme: every channel shifted by a key byte (mod 256)."""
    from dataclasses import dataclass
    from typing import ClassVar

    import torch

    from imgleak import ciphers
    from imgleak.ciphers.base import CipherBase, check_first_index, check_key
    from imgleak.ciphers.keyspace import check_shape
    from imgleak.tensors import as_image_batch, restore_rank


    @dataclass(frozen=True)
    class Shift(CipherBase):
        name: ClassVar[str] = "{SCHEME}"
        invertible: ClassVar[bool] = True

        def key_space_log2(self, shape):
            return 8.0 * check_shape(shape)[-3]

        def _shifts(self, key, batch):
            material = torch.tensor(list(check_key(key).material), dtype=torch.uint8)
            return material.repeat(batch.shape[1])[:batch.shape[1]].view(1, -1, 1, 1).to(batch.device)

        def encrypt(self, x, key, *, first_index=0):
            check_first_index(first_index)
            batch, single = as_image_batch(x, "x")
            return restore_rank(batch + self._shifts(key, batch), single)

        def decrypt(self, y, key, *, first_index=0):
            check_first_index(first_index)
            batch, single = as_image_batch(y, "y")
            return restore_rank(batch - self._shifts(key, batch), single)


    ciphers.register(Shift)  # the one registration line
''')


@pytest.fixture
def throwaway(tmp_path, monkeypatch):
    """The throw-away scheme's module written to ``tmp_path`` and imported (registered); unregistered after."""
    (tmp_path / "throwaway_scheme.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("throwaway_scheme", None)
    import throwaway_scheme  # noqa: F401  registers it

    yield tmp_path
    ciphers.unregister(SCHEME)
    sys.modules.pop("throwaway_scheme", None)
    assert SCHEME not in ciphers.available()


def test_a_registered_scheme_is_in_the_registry_and_the_scorecard(throwaway):
    from imgleak.scorecard.schemes import library_schemes, resolve

    assert SCHEME in ciphers.available() and ciphers.variants()[SCHEME] == Variant(SCHEME, SCHEME)
    subject = library_schemes()[SCHEME]
    assert subject.cipher.name == SCHEME and not subject.trained_keys
    assert [s.name for s in resolve([SCHEME])] == [SCHEME]


def test_a_registered_scheme_passes_the_conformance_suite(throwaway):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(throwaway), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "throwaway_scheme", "-k", SCHEME, "-p",
                          "no:cacheprovider", str(ROOT / "tests/ciphers/test_conformance.py")],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    passed = int(run.stdout.strip().splitlines()[-1].split(" passed")[0].split()[-1])
    assert passed >= 10  # every check of the suite ran on it


def test_a_registered_scheme_is_listed_by_evaluate_help(throwaway, capsys):
    from imgleak import cli

    with pytest.raises(SystemExit):
        cli.main(["evaluate", "--help"])
    assert SCHEME in capsys.readouterr().out
