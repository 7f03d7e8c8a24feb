"""Every chapter executed by the pipeline with the ``paper`` profile, on tiny data sets on disk.

The profile's parameters are kept except sizes and epochs (:data:`SIZES`, :data:`ADDED_SIZES`):
the data sets, models, encoders, pretrained flags and optimisers are the paper's. The data are
written here in the files torchvision reads (MNIST and Fashion-MNIST idx files, CIFAR-10 python
batches, STL-10 binaries) plus a COCO-like folder of JPEGs, under the book copy's ``data`` folder
where the profile points. Only torchvision's MD5 check is patched (the files are not the real
ones), in this process and, through an IPython startup file, in the chapters' kernels.

No pretrained weights exist here and nothing may be downloaded: a chapter whose paper settings
need them must stop with a message that says what to fetch (:data:`OFFLINE_FAILURES`); it is
then run again with its labelled fallback (:data:`FALLBACKS`) so that the rest of it runs too.
"""

from __future__ import annotations

import dataclasses

import json
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torchvision.datasets.utils
from PIL import Image

from imgleak import images
from imgleak.attacks.datasets import load_stl10
from imgleak.scorecard.base import BUDGETS
from imgleak.book import BookError, CHAPTERS_DIR, chapter_names, content_hash, execute_chapter, load_profile
from imgleak.experiments.rvt import load_dataset

pytestmark = pytest.mark.book

CHAPTERS = chapter_names(Path(__file__).resolve().parents[2])

SIZES: dict[str, Any] = {  # name -> tiny value, wherever the paper profile sets it (nested options too)
    "keystream_bytes": 65536,
    "embedding_patches_per_image": 4,  # MINE needs 2 held-out pairs: 3 images x 4 patches
    "mine_epochs": 2,
    "epochs": 1,
    "classifier_epochs": 1,
    "batch_size": 8,
    "input_size": 64,  # ViT-B/16 on 64 pixels: 4x4 patches of 16, cheap on a CPU
    "info_images": 8,
    "n_swaps": 200,
}
ADDED_SIZES: dict[str, dict[str, Any]] = {  # sizes the profile leaves at the chapter's (large) default
    "selective_encryption": {"pixel_patches_per_image": 20, "uniform_images": 1, "mine_batch_size": 16},
    # the paper budget with every size of the quick one (its name, schemes and criteria kept), one seed
    "leakage_benchmark": {"seeds": [0], "budget_overrides": {
        k: v for k, v in dataclasses.asdict(BUDGETS["quick"]).items() if k != "name"}},
}
OFFLINE_FAILURES = {  # chapter -> the error its paper settings must stop with here: the file to fetch, the fallback
    "selective_encryption": r"WeightsUnavailableError: pretrained weights for 'clip-vit-b-32' .*"
                            r"open_clip_model\.safetensors.*pretrained=False",
    "information_and_rvt": r"WeightsUnavailableError: pretrained ViT-B/16 weights .*are not available: not cached and "
                           r"HF_HUB_OFFLINE is set\. Looked for: \S*vit_b_16-c867db91\.pth.* copy vit_b_16-c867db91\.pth "
                           r"into .*or use pretrained=False",
}
FALLBACKS: dict[str, dict[str, Any]] = {  # chapter -> the labelled offline fallback, merged into its settings
    "selective_encryption": {"pretrained": False},
    "information_and_rvt": {"model_settings": {"vit_b_16": {"model_options": {"pretrained": False}}}},
}
SPLITS = {  # data set -> (training images, test images, (C, H, W))
    "mnist": (16, 8, (1, 28, 28)),
    "fashion_mnist": (16, 8, (1, 28, 28)),
    "cifar10": (10, 5, (3, 32, 32)),
    "stl10": (8, 4, (3, 96, 96)),
}
CLASSES = {name: tuple(f"{name} class {i}" for i in range(10)) for name in ("cifar10", "stl10")}  # as written
COCO_SIZES = ((320, 240), (288, 256), (256, 232))  # (width, height) of the COCO-like JPEGs
NO_MD5 = "import torchvision.datasets.utils\ntorchvision.datasets.utils.check_md5 = lambda fpath, md5, **kwargs: True\n"


# ---------------------------------------------------------------------------------- parameters


def shrink(value: Any) -> Any:
    """``value`` with every :data:`SIZES` key replaced, at any depth of nested dicts."""
    if isinstance(value, dict):
        return {k: SIZES[k] if k in SIZES else shrink(v) for k, v in value.items()}
    return value


def without_sizes(value: Any) -> Any:
    """``value`` without its :data:`SIZES` keys, at any depth."""
    if isinstance(value, dict):
        return {k: without_sizes(v) for k, v in value.items() if k not in SIZES}
    return value


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in, nested dicts merged key by key."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def paper_parameters(root: Path, chapter: str, fallback: bool) -> dict[str, Any]:
    """The paper profile's parameters of ``chapter``, sizes shrunk, with its fallback if asked."""
    paper = load_profile(root, "paper").chapters.get(chapter, {})
    parameters = {**shrink(paper), **ADDED_SIZES.get(chapter, {})}
    return merged(parameters, FALLBACKS[chapter]) if fallback else parameters


# ---------------------------------------------------------------------------------- data files


def labelled(name: str, train: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images ``(N, C, H, W)`` of data set ``name`` and labels cycling through 10 classes."""
    n_train, n_test, shape = SPLITS[name]
    n = n_train if train else n_test
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8), (np.arange(n) + seed) % 10


def write_idx(path: Path, array: np.ndarray) -> None:
    """An idx file (uint8, big-endian sizes), as MNIST ships it once unpacked."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist_like(root: Path, name: str) -> dict[bool, tuple[np.ndarray, np.ndarray]]:
    """MNIST or Fashion-MNIST as torchvision keeps them: unpacked idx files in ``<Class>/raw``."""
    raw = root / ("MNIST" if name == "mnist" else "FashionMNIST") / "raw"
    raw.mkdir(parents=True)
    data = {}
    for train, prefix in ((True, "train"), (False, "t10k")):
        x, y = data[train] = labelled(name, train, seed=int(train))
        write_idx(raw / f"{prefix}-images-idx3-ubyte", x[:, 0])
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", y)
    return data


def write_cifar10(root: Path) -> dict[bool, tuple[np.ndarray, np.ndarray]]:
    """CIFAR-10's python version: five pickled training batches, a test batch and the class names."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    data = {train: labelled("cifar10", train, seed=2 + int(train)) for train in (True, False)}
    batches = {f"data_batch_{i + 1}": part for i, part in enumerate(np.array_split(np.arange(10), 5))}
    for file, rows in {**batches, "test_batch": None}.items():
        x, y = data[rows is not None]
        rows = np.arange(len(y)) if rows is None else rows
        entry = {"batch_label": file, "data": x[rows].reshape(len(rows), -1), "labels": y[rows].tolist()}
        (folder / file).write_bytes(pickle.dumps(entry))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(CLASSES["cifar10"])}))
    return data


def write_stl10(root: Path) -> dict[bool, tuple[np.ndarray, np.ndarray]]:
    """STL-10's binary version (torchvision also wants ``unlabeled_X.bin`` to exist)."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    data = {train: labelled("stl10", train, seed=4 + int(train)) for train in (True, False)}
    for train, split in ((True, "train"), (False, "test")):
        x, y = data[train]
        (folder / f"{split}_X.bin").write_bytes(x.transpose(0, 1, 3, 2).tobytes())  # stored column-major
        (folder / f"{split}_y.bin").write_bytes((y + 1).astype(np.uint8).tobytes())  # 1-based on disk
    (folder / "unlabeled_X.bin").write_bytes(labelled("stl10", False, seed=6)[0].tobytes())
    (folder / "class_names.txt").write_text("".join(f"{c}\n" for c in CLASSES["stl10"]))
    return data


def write_coco(folder: Path) -> None:
    """A few JPEGs larger than 224x224, named like COCO's, in ``folder``."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    for i, (width, height) in enumerate(COCO_SIZES):
        ramp = np.add.outer(np.arange(height), np.arange(width))[..., None] * np.array([1, 2, 3])
        pixels = (ramp + rng.integers(0, 40, (height, width, 3))) % 256
        Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i:012d}.jpg", quality=90)


def write_data(root: Path) -> dict[str, dict[bool, tuple[np.ndarray, np.ndarray]]]:
    """Every data set the profile can point at, under ``root``; returns what was written."""
    written = {name: write_mnist_like(root, name) for name in ("mnist", "fashion_mnist")}
    written["cifar10"] = write_cifar10(root)
    written["stl10"] = write_stl10(root)
    write_coco(root / "coco" / "val2017")
    return written


# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def paper_book(book_copy: Path, tmp_path_factory: pytest.TempPathFactory):
    """The book copy with tiny data under ``data/`` and chapter kernels that cannot download anything."""
    write_data(book_copy / "data")
    home = tmp_path_factory.mktemp("home")
    startup = home / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-no-md5.py").write_text(NO_MD5)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPYTHONDIR", str(home / "ipython"))
        mp.setenv("TORCH_HOME", str(home / "torch"))  # empty weight caches, whatever this machine holds
        mp.setenv("HF_HOME", str(home / "huggingface"))
        mp.delenv("HF_HUB_CACHE", raising=False)
        mp.setenv("HF_HUB_OFFLINE", "1")
        for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            mp.setenv(proxy, "http://127.0.0.1:9")  # torchvision's own downloads fail at once, even online
        mp.delenv("no_proxy", raising=False)
        mp.delenv("NO_PROXY", raising=False)
        yield book_copy
    shutil.rmtree(book_copy / ".cache", ignore_errors=True)  # the content cache: ~3 GB of paper-sized U-Nets


@pytest.fixture
def no_md5(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torchvision.datasets.utils, "check_md5", lambda fpath, md5, **kwargs: True)


def run_chapter(root: Path, chapter: str, parameters: dict[str, Any]) -> str:
    """Execute ``chapter`` with the paper profile and ``parameters``; return the text of its outputs."""
    profile = load_profile(root, "paper")
    execute_chapter(root, chapter, parameters, profile, content_hash(root / "notebooks" / f"{chapter}.py",
                                                                    parameters, "test"))
    notebook = json.loads((root / CHAPTERS_DIR / f"{chapter}.ipynb").read_text())
    assert notebook["metadata"]["imgleak"]["parameters"] == parameters
    texts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            texts.append("".join(output.get("data", {}).get("text/plain", "")))
            texts.append("".join(output.get("data", {}).get("text/markdown", "")))
    return "\n".join(texts)


# ---------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", list(SPLITS))
def test_paper_data_files_read_back_exactly(name: str, tmp_path: Path, no_md5: None) -> None:
    written = write_data(tmp_path)[name]
    for train in (True, False):
        loaded = images.load_torchvision(name, tmp_path, train=train, download=True)
        x, y = written[train]
        assert torch.equal(loaded.images, torch.from_numpy(x))
        assert torch.equal(loaded.labels, torch.from_numpy(y).long())
        assert loaded.classes == CLASSES.get(name, loaded.classes) and len(loaded.classes) == 10


def test_paper_loaders_of_the_chapters_read_the_files(tmp_path: Path, no_md5: None) -> None:
    written = write_data(tmp_path)
    train, test = load_dataset("mnist", data_root=tmp_path, download=True)
    assert torch.equal(train.images, torch.from_numpy(written["mnist"][True][0]))
    assert torch.equal(test.labels, torch.from_numpy(written["mnist"][False][1]).long())
    stl = load_stl10(tmp_path, download=True)
    assert torch.equal(stl.train, torch.from_numpy(written["stl10"][True][0]))
    assert torch.equal(stl.test_labels, torch.from_numpy(written["stl10"][False][1]).long())
    assert [p.image.shape[1:] for p in images.load_folder(tmp_path / "coco" / "val2017", count=100)] == [
        (h, w) for w, h in sorted(COCO_SIZES, key=lambda s: -s[0] * s[1])]


def test_paper_sizes_are_the_only_changes() -> None:
    paper = {"epochs": 300, "lr": 0.1, "model_settings": {"vit": {"batch_size": 128, "pretrained": True}}}
    assert shrink(paper) == {"epochs": 1, "lr": 0.1, "model_settings": {"vit": {"batch_size": 8, "pretrained": True}}}
    assert without_sizes(shrink(paper)) == without_sizes(paper)


EXPECTED_OUTPUT = {  # chapter -> lines its outputs must hold: it read the files written here
    "data_and_keys": [f"MNIST found under 'data': {(SPLITS['mnist'][0], *SPLITS['mnist'][2])}"],
    "selective_encryption": ["randomly initialised", *(f"{i:012d}" for i in range(len(COCO_SIZES)))],
    "information_and_rvt": ["mnist: {} training and {} test images of (C, H, W) = {}".format(*SPLITS["mnist"])],
    "ciphertext_only_attacks": ["AttackData('stl10', train={}, test={}, val=0, image_shape={}, classes=10)".format(
        *SPLITS["stl10"])],
    "leakage_benchmark": ["Budget `paper` with"],
    "score_your_own_scheme": ["my_scheme:PerImagePad passes: True"],
}
CASES = [(chapter, False) for chapter in CHAPTERS] + [(chapter, True) for chapter in FALLBACKS]


@pytest.mark.parametrize(("chapter", "fallback"), CASES,
                         ids=[f"{c}-{'fallback' if f else 'paper'}" for c, f in CASES])
def test_paper_profile_chapter(paper_book: Path, chapter: str, fallback: bool) -> None:
    parameters = paper_parameters(paper_book, chapter, fallback)
    if chapter in OFFLINE_FAILURES and not fallback:
        with pytest.raises(BookError, match=OFFLINE_FAILURES[chapter]):
            run_chapter(paper_book, chapter, parameters)
        return
    text = run_chapter(paper_book, chapter, parameters)
    for line in EXPECTED_OUTPUT[chapter]:
        assert line in text, f"{chapter}: no output line {line!r}"
