"""Attack data: photo crops split by source photo (seeded), STL-10 offline, disjoint halves."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imgleak.attacks.datasets import AttackData, halves, load_stl10, photo_crops
from imgleak.images import PHOTO_NAMES, DatasetUnavailableError, load_photo


@pytest.fixture(scope="module")
def crops() -> AttackData:
    return photo_crops(60, 20, 32, seed=3, n_val=12)


def test_split_by_photo(crops):
    assert crops.classes == PHOTO_NAMES
    assert len(crops.test_photos) == 3 and len(crops.train_photos) == len(PHOTO_NAMES) - 3
    assert not set(crops.train_photos) & set(crops.test_photos)
    train_from = {crops.classes[i] for i in crops.train_labels.tolist()}
    test_from = {crops.classes[i] for i in crops.test_labels.tolist()}
    assert train_from == set(crops.train_photos) and test_from == set(crops.test_photos)
    assert not train_from & test_from  # no photo in both splits
    val_from = {crops.classes[i] for i in crops.val_labels.tolist()}
    assert val_from <= set(crops.train_photos)


def test_shapes_dtypes_and_balance(crops):
    assert (crops.train.shape, crops.test.shape, crops.val.shape) == ((60, 3, 32, 32), (20, 3, 32, 32), (12, 3, 32, 32))
    assert crops.train.dtype == torch.uint8 and crops.train_labels.dtype == torch.int64
    counts = torch.bincount(crops.train_labels, minlength=len(PHOTO_NAMES))[
        [PHOTO_NAMES.index(n) for n in crops.train_photos]]
    assert int(counts.max() - counts.min()) <= 1  # shared out evenly
    assert crops.train_set.images is crops.train and len(crops.test_set) == 20
    assert len(crops.val_set) == 12


def test_crops_are_cut_from_their_photo():
    data = photo_crops(4, 2, 16, photos=["chelsea", "coffee"], test_photos=["coffee"], seed=0)
    photo = load_photo("chelsea").image
    h, w = photo.shape[-2:]
    for crop in data.train:
        # candidate corners: where the crop's first pixel matches, then the whole window
        rows, cols = torch.nonzero((photo[:, : h - 15, : w - 15] == crop[:, :1, :1]).all(0), as_tuple=True)
        assert any(torch.equal(photo[:, r:r + 16, c:c + 16], crop) for r, c in zip(rows.tolist(), cols.tolist()))


def test_deterministic_and_seeded(crops):
    again = photo_crops(60, 20, 32, seed=3, n_val=12)
    for a, b in ((crops.train, again.train), (crops.test_labels, again.test_labels), (crops.val, again.val)):
        assert torch.equal(a, b)
    other = photo_crops(60, 20, 32, seed=4)
    assert not torch.equal(crops.train, other.train)


def test_named_test_photos_and_max_side():
    data = photo_crops(8, 4, 32, photos=["astronaut", "coffee", "china"], test_photos=["china"], max_side=128, seed=1)
    assert data.test_photos == ("china",) and data.train_photos == ("astronaut", "coffee")
    assert data.settings["max_side"] == 128
    assert set(data.test_labels.tolist()) == {2}


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_train": 0}, ValueError, "n_train"),
        ({"size": 0}, ValueError, "size"),
        ({"test_photos": 0}, ValueError, "test_photos"),
        ({"test_photos": len(PHOTO_NAMES)}, ValueError, "test_photos"),
        ({"test_photos": ["nope"]}, ValueError, "test_photos"),
        ({"test_photos": 1.5}, TypeError, "test_photos"),
        ({"photos": "astronaut"}, TypeError, "photos"),
        ({"photos": ["astronaut"]}, ValueError, "at least 2"),
        ({"photos": ["astronaut", "nope"]}, ValueError, "unknown photo"),
        ({"size": 400}, ValueError, "smaller than the crop size"),
        ({"max_side": 16}, ValueError, "max_side"),
        ({"seed": "0"}, TypeError, "seed"),
        ({"n_val": -1}, ValueError, "n_val"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        photo_crops(**{"n_train": 4, "n_test": 2, "size": 16, **kwargs})


def test_val_set_missing_is_explained():
    with pytest.raises(ValueError, match="n_val"):
        _ = photo_crops(4, 2, 16, seed=0).val_set


def test_stl10_offline_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="STL10"):
        load_stl10(tmp_path / "data", n_train=10)
    with pytest.raises(ValueError, match="n_test"):
        load_stl10(tmp_path, n_test=0)


def test_halves_are_disjoint_and_cover(device):
    x = torch.arange(11, device=device)
    t1, t2 = halves(x, seed=5)
    assert t1.device == x.device and len(t1) == 6 and len(t2) == 5
    assert sorted(t1.tolist() + t2.tolist()) == list(range(11))
    assert torch.equal(halves(x, seed=5)[0], t1)
    assert len(halves(x, seed=0, fraction=0.2)[0]) == 2
    with pytest.raises(ValueError, match="fraction"):
        halves(x, fraction=1.0)
    with pytest.raises(ValueError, match="empty"):
        halves(x[:1])
    with pytest.raises(TypeError, match="images"):
        halves([1, 2, 3])


def test_numpy_numbers_are_accepted_and_floats_refused():
    x = torch.arange(10)
    assert torch.equal(halves(x, seed=np.int64(3), fraction=np.float32(0.5))[0], halves(x, seed=3)[0])
    with pytest.raises(TypeError, match="seed must be an int, got float 3.0"):
        halves(x, seed=3.0)
    for fraction in (float("nan"), "0.5", True):
        with pytest.raises(ValueError, match="fraction must be"):
            halves(x, fraction=fraction)
    with pytest.raises(ValueError, match="n_train must be a positive int, got 4.0"):
        load_stl10("unused", n_train=4.0)
    with pytest.raises(TypeError, match="download must be True or False"):
        load_stl10("unused", download="no")
