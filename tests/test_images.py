"""Tests for imgleak.images: bundled photos, digits, image folders, torchvision sets, patches."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from imgleak import images
from imgleak.images import (
    IMAGE_SUFFIXES,
    PHOTO_NAMES,
    TORCHVISION_NAMES,
    DatasetUnavailableError,
    LabelledImages,
    Photo,
    bundled_photos,
    colocated_patches,
    extract_patches,
    load_digits,
    load_folder,
    load_photo,
    load_torchvision,
    patch_positions,
)

EXPECTED_PHOTOS = {
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "motorcycle",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "china",
    "flower",
    "grace_hopper",
}


def _random_image(shape, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)


def _all_dirs(root: Path) -> set[Path]:
    return {Path(d) for d, _, _ in os.walk(root)}


# --------------------------------------------------------------------------------------------
# Bundled photographs
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photos() -> dict[str, Photo]:
    """Every bundled photo, loaded once for the module."""
    return {name: load_photo(name) for name in PHOTO_NAMES}


class TestBundledPhotos:
    def test_photo_names_contains_the_expected_set(self):
        assert EXPECTED_PHOTOS <= set(PHOTO_NAMES)
        assert len(PHOTO_NAMES) == len(set(PHOTO_NAMES))
        assert isinstance(PHOTO_NAMES, tuple)

    @pytest.mark.parametrize("name", sorted(EXPECTED_PHOTOS))
    def test_every_photo_is_uint8_chw_contiguous(self, photos, name):
        photo = photos[name]
        assert isinstance(photo, Photo)
        assert photo.name == name
        image = photo.image
        assert isinstance(image, torch.Tensor)
        assert image.dtype == torch.uint8
        assert image.dim() == 3
        assert image.shape[0] == 3
        assert image.is_contiguous()
        assert image.shape[1] > 1 and image.shape[2] > 1
        assert photo.size == (image.shape[1], image.shape[2])
        assert isinstance(photo.source, str) and photo.source
        # A real photo: not constant.
        assert int(image.max()) > int(image.min())

    @pytest.mark.parametrize(
        "name,size", [("astronaut", (512, 512)), ("chelsea", (300, 451)), ("china", (427, 640))]
    )
    def test_known_sizes(self, photos, name, size):
        assert photos[name].size == size
        assert tuple(photos[name].image.shape) == (3, *size)

    def test_astronaut_pixels_match_scikit_image(self, photos):
        import skimage.data

        hwc = skimage.data.astronaut()
        np.testing.assert_array_equal(photos["astronaut"].image.permute(1, 2, 0).numpy(), hwc[:, :, :3])
        # channel 0 is red: the (H, W, C) -> (C, H, W) transpose is right, not a reshape
        np.testing.assert_array_equal(photos["astronaut"].image[0].numpy(), hwc[:, :, 0])

    def test_motorcycle_is_the_left_view(self, photos):
        import skimage.data

        left = skimage.data.stereo_motorcycle()[0]
        np.testing.assert_array_equal(photos["motorcycle"].image.permute(1, 2, 0).numpy(), left)

    def test_china_matches_scikit_learn(self, photos):
        from sklearn.datasets import load_sample_image

        np.testing.assert_array_equal(photos["china"].image.permute(1, 2, 0).numpy(), load_sample_image("china.jpg"))

    def test_sources(self, photos):
        assert photos["astronaut"].source == "scikit-image"
        assert photos["china"].source == "scikit-learn"
        assert photos["grace_hopper"].source == "matplotlib"

    def test_photos_are_distinct(self, photos):
        assert not torch.equal(photos["china"].image, photos["flower"].image)

    @pytest.mark.parametrize("name", ["mona_lisa", "", "Astronaut", "astronaut ", 3, ["astronaut"], None])
    def test_unknown_name_raises_value_error_naming_choices(self, name):
        with pytest.raises(ValueError) as info:
            load_photo(name)
        message = str(info.value)
        assert repr(name) in message
        for choice in PHOTO_NAMES:
            assert choice in message

    def test_bundled_photos_keeps_requested_order(self):
        result = bundled_photos(["coffee", "astronaut"])
        assert [p.name for p in result] == ["coffee", "astronaut"]
        assert result[1].size == (512, 512)

    def test_bundled_photos_accepts_tuple_and_empty_list(self):
        assert [p.name for p in bundled_photos(("chelsea",))] == ["chelsea"]
        assert bundled_photos([]) == []

    def test_bundled_photos_all_in_declared_order(self, monkeypatch):
        # Avoid decoding everything again: record the order load_photo is called in.
        calls = []

        def fake_load_photo(name):
            calls.append(name)
            return Photo(name=name, image=torch.zeros(3, 1, 1, dtype=torch.uint8), source="test")

        monkeypatch.setattr(images, "load_photo", fake_load_photo)
        result = bundled_photos()
        assert calls == list(PHOTO_NAMES)
        assert [p.name for p in result] == list(PHOTO_NAMES)

    def test_bundled_photos_rejects_a_single_string(self):
        with pytest.raises(TypeError):
            bundled_photos("astronaut")

    def test_bundled_photos_unknown_name(self):
        with pytest.raises(ValueError, match="nope"):
            bundled_photos(["coffee", "nope"])


# --------------------------------------------------------------------------------------------
# Digits
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits() -> LabelledImages:
    return load_digits()


class TestDigits:
    def test_shapes_and_dtypes(self, digits):
        assert isinstance(digits, LabelledImages)
        assert digits.name == "digits"
        assert len(digits) == 1797
        assert tuple(digits.images.shape) == (1797, 1, 8, 8)
        assert digits.images.dtype == torch.uint8
        assert tuple(digits.labels.shape) == (1797,)
        assert digits.labels.dtype == torch.int64

    def test_value_ranges(self, digits):
        assert int(digits.images.max()) == 255
        assert int(digits.images.min()) == 0
        assert int(digits.labels.min()) == 0
        assert int(digits.labels.max()) == 9
        assert set(digits.labels.unique().tolist()) == set(range(10))
        assert digits.classes == tuple(str(d) for d in range(10))

    def test_scaling_matches_scikit_learn(self, digits):
        from sklearn.datasets import load_digits as sk_load_digits

        bunch = sk_load_digits()
        expected = np.rint(bunch.images * 255.0 / 16.0).astype(np.uint8)
        np.testing.assert_array_equal(digits.images[:, 0].numpy(), expected)
        np.testing.assert_array_equal(digits.labels.numpy(), bunch.target)
        allowed = {int(round(v * 255 / 16)) for v in range(17)}
        assert set(digits.images.unique().tolist()) <= allowed


# --------------------------------------------------------------------------------------------
# Image folders
# --------------------------------------------------------------------------------------------


def _rgb(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _gray(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)


@pytest.fixture
def folder(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    """A folder with images of different sizes and kinds, plus non-image files."""
    arrays = {
        "big": _rgb(40, 50, 1),  # 2000 px, PNG
        "gray": _gray(30, 40, 2),  # 1200 px, PNG, mode L
        "middle": _rgb(25, 30, 3),  # 750 px, BMP
        "small": _rgb(10, 12, 4),  # 120 px, PNG
    }
    Image.fromarray(arrays["big"]).save(tmp_path / "big.png")
    Image.fromarray(arrays["gray"], mode="L").save(tmp_path / "gray.png")
    Image.fromarray(arrays["middle"]).save(tmp_path / "middle.bmp")
    Image.fromarray(arrays["small"]).save(tmp_path / "small.png")
    (tmp_path / "notes.txt").write_text("not an image, and must be ignored\n")
    (tmp_path / "README").write_text("no suffix\n")
    (tmp_path / "subfolder.png").mkdir()  # a folder with an image suffix is not a file
    Image.fromarray(_rgb(100, 100, 5)).save(tmp_path / "subfolder.png" / "hidden.png")  # not recursed into
    return tmp_path, arrays


class TestLoadFolder:
    def test_largest_first_by_pixel_count(self, folder):
        path, _ = folder
        photos = load_folder(path)
        assert [p.name for p in photos] == ["big", "gray", "middle", "small"]
        pixels = [p.size[0] * p.size[1] for p in photos]
        assert pixels == sorted(pixels, reverse=True)

    @pytest.mark.parametrize("count,names", [(1, ["big"]), (2, ["big", "gray"]), (3, ["big", "gray", "middle"])])
    def test_count_largest(self, folder, count, names):
        path, _ = folder
        assert [p.name for p in load_folder(path, count=count)] == names

    def test_count_larger_than_folder(self, folder):
        path, _ = folder
        assert len(load_folder(path, count=100)) == 4

    def test_names_are_stems_and_sources_are_paths(self, folder):
        path, _ = folder
        photos = load_folder(path)
        for photo in photos:
            assert "." not in photo.name
            assert Path(photo.source).parent == path
            assert Path(photo.source).stem == photo.name
            assert Path(photo.source).is_file()

    def test_text_files_ignored(self, folder):
        path, _ = folder
        names = {p.name for p in load_folder(path)}
        assert "notes" not in names and "README" not in names and "hidden" not in names

    def test_rgb_mode_gives_three_channels(self, folder):
        path, arrays = folder
        photos = {p.name: p for p in load_folder(path, mode="RGB")}
        for photo in photos.values():
            assert photo.image.dtype == torch.uint8
            assert photo.image.shape[0] == 3
            assert photo.image.is_contiguous()
        gray = photos["gray"].image
        for channel in range(3):
            np.testing.assert_array_equal(gray[channel].numpy(), arrays["gray"])

    def test_none_mode_keeps_gray_single_channel(self, folder):
        path, arrays = folder
        photos = {p.name: p for p in load_folder(path, mode=None)}
        assert tuple(photos["gray"].image.shape) == (1, 30, 40)
        np.testing.assert_array_equal(photos["gray"].image[0].numpy(), arrays["gray"])
        assert tuple(photos["big"].image.shape) == (3, 40, 50)

    def test_l_mode_gives_one_channel(self, folder):
        path, _ = folder
        for photo in load_folder(path, mode="L"):
            assert photo.image.shape[0] == 1

    @pytest.mark.parametrize("name", ["big", "small", "middle"])
    def test_lossless_pixels_round_trip(self, folder, name):
        path, arrays = folder
        photo = {p.name: p for p in load_folder(path)}[name]
        assert photo.size == arrays[name].shape[:2]
        np.testing.assert_array_equal(photo.image.permute(1, 2, 0).numpy(), arrays[name])

    def test_rgba_alpha_dropped(self, tmp_path):
        rgba = np.random.default_rng(0).integers(0, 256, (6, 7, 4), dtype=np.uint8)
        Image.fromarray(rgba, mode="RGBA").save(tmp_path / "alpha.png")
        (photo,) = load_folder(tmp_path, mode=None)
        assert tuple(photo.image.shape) == (3, 6, 7)
        np.testing.assert_array_equal(photo.image.permute(1, 2, 0).numpy(), rgba[:, :, :3])

    def test_rgba_mode_keeps_four_channels(self, tmp_path):
        rgba = np.random.default_rng(0).integers(0, 256, (6, 7, 4), dtype=np.uint8)
        Image.fromarray(rgba, mode="RGBA").save(tmp_path / "alpha.png")
        (photo,) = load_folder(tmp_path, mode="RGBA")
        np.testing.assert_array_equal(photo.image.permute(1, 2, 0).numpy(), rgba)

    def test_gray_alpha_file_with_mode_none_gives_rgb_without_alpha(self, tmp_path):
        la = np.random.default_rng(0).integers(0, 256, (6, 7, 2), dtype=np.uint8)
        Image.fromarray(la, mode="LA").save(tmp_path / "gray_alpha.png")
        (photo,) = load_folder(tmp_path, mode=None)
        assert tuple(photo.image.shape) == (3, 6, 7)
        for channel in range(3):
            np.testing.assert_array_equal(photo.image[channel].numpy(), la[:, :, 0])

    @pytest.mark.parametrize("mode", ["LA", "CMYK", "P", "I", "F", "1", "rgb", 3, ""])
    def test_modes_that_lose_or_mislabel_channels_are_refused(self, folder, mode):
        path, _ = folder
        with pytest.raises(ValueError, match=r"mode must be one of 'RGB', 'L', 'RGBA', None"):
            load_folder(path, mode=mode)

    def test_palette_image_for_mode_l_is_the_luminance_of_its_colours(self, tmp_path):
        rgb = _rgb(8, 9, 7)
        Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
        (photo,) = load_folder(tmp_path, mode="L")
        expected = np.asarray(Image.open(tmp_path / "palette.png").convert("RGB").convert("L"))
        np.testing.assert_array_equal(photo.image[0].numpy(), expected)

    @pytest.mark.parametrize("mode,channels", [(None, 1), ("L", 1), ("RGB", 3), ("RGBA", 4)])
    def test_sixteen_bit_gray_png_is_scaled_by_shifting_eight_bits(self, tmp_path, mode, channels):
        values = np.array([[0, 255, 256, 383, 32896], [65280, 65534, 65535, 257, 1000]], dtype=np.uint16)
        Image.fromarray(values).save(tmp_path / "deep.png")
        assert Image.open(tmp_path / "deep.png").mode.startswith("I")
        (photo,) = load_folder(tmp_path, mode=mode)
        assert tuple(photo.image.shape) == (channels, 2, 5)
        expected = [[0, 0, 1, 1, 128], [255, 255, 255, 1, 3]]
        for channel in range(min(channels, 3)):
            assert photo.image[channel].tolist() == expected
        if channels == 4:
            assert bool((photo.image[3] == 255).all())

    def test_thirty_two_bit_values_beyond_sixteen_bits_name_the_file(self, tmp_path):
        Image.fromarray(np.array([[0, 70000]], dtype=np.int32)).save(tmp_path / "wide.tif")
        with pytest.raises(ValueError, match=r"wide\.tif.*0\.\.65535"):
            load_folder(tmp_path)

    def test_floating_point_file_is_refused_naming_it(self, tmp_path):
        Image.fromarray(np.array([[0.0, 0.5]], dtype=np.float32)).save(tmp_path / "float.tif")
        with pytest.raises(ValueError, match=r"float\.tif.*floating-point"):
            load_folder(tmp_path)

    @pytest.mark.parametrize("path", [None, 3, ["a"]])
    def test_path_that_is_not_a_path_raises_type_error(self, path):
        with pytest.raises(TypeError, match="path must be a folder path"):
            load_folder(path)

    def test_numpy_count_accepted(self, folder):
        path, _ = folder
        assert [p.name for p in load_folder(path, count=np.int64(2))] == ["big", "gray"]

    @pytest.mark.parametrize("mode", [None, "L"])
    def test_loaded_pixels_are_backed_by_writable_memory(self, folder, monkeypatch, mode):
        path, _ = folder
        writable = []
        original = torch.from_numpy

        def recording_from_numpy(array):
            writable.append(bool(array.flags.writeable))
            return original(array)

        monkeypatch.setattr(torch, "from_numpy", recording_from_numpy)
        photos = load_folder(path, mode=mode)
        assert len(writable) == len(photos)
        assert all(writable)

    def test_palette_image_converted_for_mode_none(self, tmp_path):
        rgb = _rgb(8, 9, 7)
        Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
        (photo,) = load_folder(tmp_path, mode=None)
        assert photo.image.shape[0] == 3

    def test_upper_case_suffix_accepted(self, tmp_path):
        Image.fromarray(_rgb(5, 5, 0)).save(tmp_path / "SHOUT.PNG", format="PNG")
        assert [p.name for p in load_folder(tmp_path)] == ["SHOUT"]

    def test_ties_broken_by_file_name(self, tmp_path):
        for name in ("c", "a", "b"):
            Image.fromarray(_rgb(4, 5, ord(name))).save(tmp_path / f"{name}.png")
        assert [p.name for p in load_folder(tmp_path)] == ["a", "b", "c"]

    def test_same_pixel_count_different_shape(self, tmp_path):
        Image.fromarray(_rgb(4, 6, 0)).save(tmp_path / "wide.png")
        Image.fromarray(_rgb(6, 4, 1)).save(tmp_path / "tall.png")
        Image.fromarray(_rgb(5, 5, 2)).save(tmp_path / "square.png")  # 25 > 24
        assert [p.name for p in load_folder(tmp_path)] == ["square", "tall", "wide"]

    def test_garbage_file_raises_value_error_naming_it(self, folder):
        path, _ = folder
        (path / "bad.png").write_bytes(b"this is not a png at all" * 10)
        with pytest.raises(ValueError, match="bad.png"):
            load_folder(path)

    def test_empty_image_file_raises_value_error_naming_it(self, tmp_path):
        (tmp_path / "empty.jpg").write_bytes(b"")
        with pytest.raises(ValueError, match="empty.jpg"):
            load_folder(tmp_path)

    def test_truncated_chosen_file_raises_value_error_naming_it(self, tmp_path):
        Image.fromarray(_rgb(60, 60, 0)).save(tmp_path / "whole.png")
        data = (tmp_path / "whole.png").read_bytes()
        (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
        with pytest.raises(ValueError, match="cut.png"):
            load_folder(tmp_path)

    def test_only_chosen_images_are_decoded(self, tmp_path):
        Image.fromarray(_rgb(60, 60, 0)).save(tmp_path / "large.png")
        Image.fromarray(_rgb(30, 30, 1)).save(tmp_path / "smaller.png")
        data = (tmp_path / "smaller.png").read_bytes()
        (tmp_path / "smaller.png").write_bytes(data[: len(data) // 2])  # header intact, pixels not
        (photo,) = load_folder(tmp_path, count=1)
        assert photo.name == "large"

    def test_empty_folder_raises(self, tmp_path):
        with pytest.raises(ValueError):
            load_folder(tmp_path)

    def test_folder_without_images_raises(self, tmp_path):
        (tmp_path / "a.txt").write_text("x")
        (tmp_path / "b.csv").write_text("x")
        with pytest.raises(ValueError, match="no image files"):
            load_folder(tmp_path)

    def test_missing_folder_raises_file_not_found(self, tmp_path):
        with pytest.raises(FileNotFoundError):
            load_folder(tmp_path / "does-not-exist")

    def test_file_instead_of_folder_raises_file_not_found(self, tmp_path):
        Image.fromarray(_rgb(4, 4, 0)).save(tmp_path / "one.png")
        with pytest.raises(FileNotFoundError):
            load_folder(tmp_path / "one.png")

    @pytest.mark.parametrize("count", [0, -1, True, 1.5, "2"])
    def test_bad_count_raises(self, folder, count):
        path, _ = folder
        with pytest.raises(ValueError):
            load_folder(path, count=count)

    def test_accepts_string_path(self, folder):
        path, _ = folder
        assert [p.name for p in load_folder(str(path), count=1)] == ["big"]

    def test_suffix_list(self):
        assert ".png" in IMAGE_SUFFIXES and ".jpg" in IMAGE_SUFFIXES and ".txt" not in IMAGE_SUFFIXES


# --------------------------------------------------------------------------------------------
# torchvision data sets (never downloaded here)
# --------------------------------------------------------------------------------------------


class TestLoadTorchvision:
    def test_names(self):
        assert {"mnist", "cifar10", "fashion_mnist", "stl10"} <= set(TORCHVISION_NAMES)

    def test_unknown_name_raises(self, tmp_path):
        with pytest.raises(ValueError) as info:
            load_torchvision("imagenet", tmp_path)
        assert "imagenet" in str(info.value)
        for name in TORCHVISION_NAMES:
            assert name in str(info.value)
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize("name", [None, ["mnist"]])
    def test_name_that_is_not_a_string_raises_value_error(self, tmp_path, name):
        with pytest.raises(ValueError, match="unknown data set"):
            load_torchvision(name, tmp_path)

    def test_root_that_is_not_a_path_raises_type_error(self):
        with pytest.raises(TypeError, match="root must be a folder path"):
            load_torchvision("mnist", None)

    @pytest.mark.parametrize("flag", ["train", "download"])
    def test_string_flags_are_refused_not_read_as_true(self, tmp_path, flag):
        with pytest.raises(TypeError, match=f"{flag} must be True or False"):
            load_torchvision("mnist", tmp_path, **{flag: "no"})
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize(
        "name,class_name,folder,needed",
        [
            ("mnist", "MNIST", "MNIST/raw", "train-images-idx3-ubyte.gz"),
            ("cifar10", "CIFAR10", "cifar-10-batches-py", "cifar-10-python.tar.gz"),
        ],
    )
    def test_missing_data_set_raises_helpfully_and_leaves_nothing(self, tmp_path, name, class_name, folder, needed):
        root = tmp_path / "data"
        assert not root.exists()
        with pytest.raises(DatasetUnavailableError) as info:
            load_torchvision(name, root, download=False)
        message = str(info.value)
        assert class_name in message
        assert str(root) in message
        assert str(root / folder) in message
        assert needed in message
        assert "download=True" in message
        assert not root.exists() or not any(p.is_dir() for p in root.rglob("*"))
        assert not root.exists()
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize("name", ["mnist", "cifar10"])
    def test_existing_root_is_kept_and_gets_no_new_folders(self, tmp_path, name):
        (tmp_path / "keep").mkdir()
        before = _all_dirs(tmp_path)
        with pytest.raises(DatasetUnavailableError):
            load_torchvision(name, tmp_path, train=False, download=False)
        assert tmp_path.is_dir()
        assert _all_dirs(tmp_path) == before

    def test_error_is_a_runtime_error(self):
        assert issubclass(DatasetUnavailableError, RuntimeError)

    def _fake(self, monkeypatch, class_name, make_dirs=(), files=(), error=RuntimeError("not here")):
        """Replace a torchvision class by one that creates folders/files under root, then fails."""
        import torchvision.datasets as tvd

        class Failing:
            def __init__(self, root, *args, **kwargs):
                for d in make_dirs:
                    os.makedirs(os.path.join(root, d), exist_ok=True)
                for f in files:
                    Path(root, f).write_bytes(b"partial")
                raise error

        monkeypatch.setattr(tvd, class_name, Failing)

    def test_cleanup_removes_new_empty_folders(self, tmp_path, monkeypatch):
        self._fake(monkeypatch, "MNIST", make_dirs=["MNIST/raw", "MNIST/processed"])
        root = tmp_path / "data"
        with pytest.raises(DatasetUnavailableError):
            load_torchvision("mnist", root)
        assert list(tmp_path.iterdir()) == []

    def test_cleanup_keeps_non_empty_and_old_folders(self, tmp_path, monkeypatch):
        root = tmp_path / "data"
        (root / "old" / "empty").mkdir(parents=True)
        self._fake(monkeypatch, "MNIST", make_dirs=["MNIST/raw", "MNIST/processed"], files=["MNIST/raw/part.gz"])
        with pytest.raises(DatasetUnavailableError):
            load_torchvision("mnist", root)
        assert (root / "old" / "empty").is_dir()  # existed before: kept even though empty
        assert (root / "MNIST" / "raw" / "part.gz").is_file()  # files are never deleted
        assert not (root / "MNIST" / "processed").exists()  # new and empty: removed

    @pytest.mark.parametrize("error", [OSError("no net"), ValueError("bad"), RuntimeError("gone")])
    def test_torchvision_errors_become_dataset_unavailable(self, tmp_path, monkeypatch, error):
        self._fake(monkeypatch, "CIFAR10", make_dirs=["cifar-10-batches-py"], error=error)
        with pytest.raises(DatasetUnavailableError, match=str(error)):
            load_torchvision("cifar10", tmp_path / "data")
        assert not (tmp_path / "data").exists()

    def test_other_errors_propagate(self, tmp_path, monkeypatch):
        self._fake(monkeypatch, "MNIST", error=KeyError("unexpected"))
        with pytest.raises(KeyError):
            load_torchvision("mnist", tmp_path / "data")

    def test_cleanup_removes_new_parent_folders_of_root(self, tmp_path, monkeypatch):
        self._fake(monkeypatch, "MNIST", make_dirs=["MNIST/raw"])
        with pytest.raises(DatasetUnavailableError):
            load_torchvision("mnist", tmp_path / "a" / "b" / "data")
        assert list(tmp_path.iterdir()) == []

    # Successful loads, with torchvision classes replaced by in-memory fakes (no files, no net).

    def test_mnist_like_conversion(self, tmp_path, monkeypatch):
        import torchvision.datasets as tvd

        data = _random_image((5, 28, 28), seed=1)
        seen = {}

        class FakeMNIST:
            classes = [f"{d} - digit" for d in range(10)]

            def __init__(self, root, train=True, download=False):
                seen.update(root=root, train=train, download=download)
                self.data = data
                self.targets = torch.tensor([3, 1, 4, 1, 5])

        monkeypatch.setattr(tvd, "MNIST", FakeMNIST)
        result = load_torchvision("mnist", tmp_path, train=False)
        assert seen == {"root": tmp_path, "train": False, "download": False}
        assert result.name == "mnist"
        assert tuple(result.images.shape) == (5, 1, 28, 28)
        assert result.images.dtype == torch.uint8
        assert torch.equal(result.images[:, 0], data)
        assert result.labels.dtype == torch.int64
        assert result.labels.tolist() == [3, 1, 4, 1, 5]
        assert result.classes == tuple(FakeMNIST.classes)
        assert len(result) == 5

    def test_cifar_like_conversion(self, tmp_path, monkeypatch):
        import torchvision.datasets as tvd

        data = _random_image((4, 32, 32, 3), seed=2).numpy()

        class FakeCIFAR10:
            classes = ["airplane", "automobile"]

            def __init__(self, root, train=True, download=False):
                self.data = data
                self.targets = [0, 1, 1, 0]

        monkeypatch.setattr(tvd, "CIFAR10", FakeCIFAR10)
        result = load_torchvision("cifar10", tmp_path)
        assert tuple(result.images.shape) == (4, 3, 32, 32)
        assert result.images.is_contiguous()
        np.testing.assert_array_equal(result.images.permute(0, 2, 3, 1).numpy(), data)
        assert result.labels.tolist() == [0, 1, 1, 0]
        assert result.classes == ("airplane", "automobile")

    def test_stl10_like_conversion(self, tmp_path, monkeypatch):
        import torchvision.datasets as tvd

        data = _random_image((3, 3, 96, 96), seed=3).numpy()
        seen = {}

        class FakeSTL10:
            def __init__(self, root, split="train", download=False):
                seen["split"] = split
                self.data = data
                self.labels = np.array([2, 0, 1])

        monkeypatch.setattr(tvd, "STL10", FakeSTL10)
        result = load_torchvision("stl10", tmp_path, train=False)
        assert seen["split"] == "test"
        assert tuple(result.images.shape) == (3, 3, 96, 96)
        np.testing.assert_array_equal(result.images.numpy(), data)
        assert result.labels.tolist() == [2, 0, 1]
        assert result.classes == ("0", "1", "2")


# --------------------------------------------------------------------------------------------
# Patch positions
# --------------------------------------------------------------------------------------------


class TestPatchPositions:
    def test_shape_dtype_and_bounds(self):
        pos = patch_positions(50, 70, 8, 200, seed=0)
        assert tuple(pos.shape) == (200, 2)
        assert pos.dtype == torch.int64
        assert int(pos[:, 0].min()) >= 0 and int(pos[:, 0].max()) <= 50 - 8
        assert int(pos[:, 1].min()) >= 0 and int(pos[:, 1].max()) <= 70 - 8

    def test_whole_range_reachable(self):
        pos = patch_positions(5, 7, 3, 2000, seed=1)
        assert set(pos[:, 0].tolist()) == {0, 1, 2}
        assert set(pos[:, 1].tolist()) == {0, 1, 2, 3, 4}

    def test_patch_as_big_as_image(self):
        pos = patch_positions(6, 6, 6, 10, seed=0)
        assert torch.equal(pos, torch.zeros(10, 2, dtype=torch.int64))

    def test_deterministic(self):
        assert torch.equal(patch_positions(100, 100, 10, 50, seed=3), patch_positions(100, 100, 10, 50, seed=3))

    def test_not_affected_by_global_seed(self):
        torch.manual_seed(0)
        a = patch_positions(100, 100, 10, 50, seed=3)
        torch.manual_seed(1)
        b = patch_positions(100, 100, 10, 50, seed=3)
        assert torch.equal(a, b)

    def test_different_seeds_differ(self):
        assert not torch.equal(patch_positions(100, 100, 10, 50, seed=3), patch_positions(100, 100, 10, 50, seed=4))

    def test_rows_and_columns_independent(self):
        pos = patch_positions(200, 200, 1, 100, seed=0)
        assert not torch.equal(pos[:, 0], pos[:, 1])

    @pytest.mark.parametrize("height,width", [(8, 20), (20, 8), (8, 8)])
    def test_patch_too_big_raises_with_sizes(self, height, width):
        with pytest.raises(ValueError) as info:
            patch_positions(height, width, 9, 5, seed=0)
        message = str(info.value)
        assert "9" in message
        assert f"{height}x{width}" in message

    @pytest.mark.parametrize("size", [0, -3, True, 2.0, "4"])
    def test_bad_size_raises(self, size):
        with pytest.raises(ValueError):
            patch_positions(10, 10, size, 5, seed=0)

    @pytest.mark.parametrize("count", [0, -1, False, 3.0])
    def test_bad_count_raises(self, count):
        with pytest.raises(ValueError):
            patch_positions(10, 10, 2, count, seed=0)

    @pytest.mark.parametrize("seed", [1.7, 1.0, "1", None, True, [1]])
    def test_non_integer_seed_raises_type_error(self, seed):
        with pytest.raises(TypeError, match="seed must be an int"):
            patch_positions(10, 10, 2, 3, seed=seed)

    @pytest.mark.parametrize("arg", ["height", "width"])
    @pytest.mark.parametrize("value", [0, -1, 10.5, "10", None])
    def test_bad_image_size_raises_naming_it(self, arg, value):
        sizes = {"height": 10, "width": 10, arg: value}
        with pytest.raises(ValueError, match=f"{arg} must be a positive int"):
            patch_positions(sizes["height"], sizes["width"], 2, 3, seed=0)

    def test_seed_beyond_64_bits_is_refused_by_name(self):
        with pytest.raises(ValueError, match="seed must fit in 64 bits"):
            patch_positions(10, 10, 2, 3, seed=2**64)

    def test_numpy_integers_accepted_everywhere(self):
        as_numpy = patch_positions(np.int64(30), np.int32(20), np.int64(4), np.int16(5), seed=np.int64(9))
        assert torch.equal(as_numpy, patch_positions(30, 20, 4, 5, seed=9))

    @settings(max_examples=50, deadline=None)
    @given(
        height=st.integers(1, 300),
        width=st.integers(1, 300),
        data=st.data(),
    )
    def test_property_inside_image(self, height, width, data):
        size = data.draw(st.integers(1, min(height, width)))
        count = data.draw(st.integers(1, 64))
        seed = data.draw(st.integers(0, 2**32))
        pos = patch_positions(height, width, size, count, seed)
        assert tuple(pos.shape) == (count, 2)
        assert bool((pos >= 0).all())
        assert bool((pos[:, 0] + size <= height).all())
        assert bool((pos[:, 1] + size <= width).all())
        assert torch.equal(pos, patch_positions(height, width, size, count, seed))


# --------------------------------------------------------------------------------------------
# Patch extraction
# --------------------------------------------------------------------------------------------


class TestExtractPatches:
    def test_single_image_shape_and_content(self):
        x = _random_image((3, 20, 30), seed=0)
        positions = torch.tensor([[0, 0], [5, 7], [15, 25], [12, 0], [0, 25]])
        patches = extract_patches(x, positions, 5)
        assert tuple(patches.shape) == (5, 3, 5, 5)
        assert patches.dtype == torch.uint8
        assert patches.is_contiguous()
        for p, (r, c) in enumerate(positions.tolist()):
            assert torch.equal(patches[p], x[:, r : r + 5, c : c + 5])

    def test_batch_shape_and_content(self):
        x = _random_image((4, 2, 16, 12), seed=1)
        positions = torch.tensor([[0, 0], [10, 6], [3, 4]])
        patches = extract_patches(x, positions, 6)
        assert tuple(patches.shape) == (4, 3, 2, 6, 6)
        for n in range(4):
            for p, (r, c) in enumerate(positions.tolist()):
                assert torch.equal(patches[n, p], x[n, :, r : r + 6, c : c + 6])

    def test_rows_are_rows_not_columns(self):
        # A non-square patch location on a non-square image distinguishes (row, col) from (col, row).
        x = torch.arange(4 * 6, dtype=torch.uint8).reshape(1, 4, 6)
        patch = extract_patches(x, torch.tensor([[1, 3]]), 2)
        assert patch[0, 0].tolist() == [[9, 10], [15, 16]]

    def test_positions_as_list_or_numpy(self):
        x = _random_image((1, 8, 8), seed=2)
        expected = extract_patches(x, torch.tensor([[1, 2], [3, 4]]), 3)
        assert torch.equal(extract_patches(x, [[1, 2], [3, 4]], 3), expected)
        assert torch.equal(extract_patches(x, np.array([[1, 2], [3, 4]]), 3), expected)

    def test_no_positions(self):
        x = _random_image((3, 8, 8), seed=2)
        assert tuple(extract_patches(x, torch.zeros(0, 2, dtype=torch.int64), 3).shape) == (0, 3, 3, 3)

    def test_full_image_patch(self):
        x = _random_image((3, 7, 7), seed=2)
        assert torch.equal(extract_patches(x, [[0, 0]], 7)[0], x)

    def test_patches_are_copies(self):
        x = _random_image((1, 8, 8), seed=2)
        patches = extract_patches(x, [[0, 0]], 4)
        before = x.clone()
        patches.zero_()
        assert torch.equal(x, before)

    def test_stays_on_device(self, device):
        x = _random_image((2, 3, 16, 16), seed=3).to(device)
        positions = patch_positions(16, 16, 4, 10, seed=0)  # positions on the CPU
        patches = extract_patches(x, positions, 4)
        assert patches.device.type == device.type
        assert tuple(patches.shape) == (2, 10, 3, 4, 4)
        cpu = extract_patches(x.cpu(), positions, 4)
        assert torch.equal(patches.cpu(), cpu)
        single = extract_patches(x[0], positions.to(device), 4)
        assert single.device.type == device.type
        assert torch.equal(single.cpu(), cpu[0])

    @pytest.mark.parametrize(
        "positions",
        [
            [[-1, 0]],
            [[0, -1]],
            [[6, 0]],  # 6 + 5 > 10
            [[0, 13]],  # 13 + 5 > 17
            [[0, 0], [10, 17]],
        ],
    )
    def test_out_of_bounds_raises(self, positions):
        x = _random_image((3, 10, 17), seed=0)
        with pytest.raises(ValueError):
            extract_patches(x, torch.tensor(positions), 5)

    def test_last_valid_position_accepted(self):
        x = _random_image((3, 10, 17), seed=0)
        patch = extract_patches(x, [[5, 12]], 5)
        assert torch.equal(patch[0], x[:, 5:, 12:])

    @pytest.mark.parametrize(
        "positions", [torch.tensor([1, 2]), torch.zeros(2, 3, dtype=torch.int64), torch.zeros(1, 2, 2, dtype=torch.int64)]
    )
    def test_bad_positions_shape_raises(self, positions):
        with pytest.raises(ValueError):
            extract_patches(_random_image((3, 10, 10)), positions, 2)

    @pytest.mark.parametrize(
        "positions", [torch.tensor([[1.7, 2.2]]), [[1.5, 2]], np.array([[1.0, 2.0]]), torch.tensor([[True, False]])]
    )
    def test_non_integer_positions_are_refused_not_truncated(self, positions):
        with pytest.raises(TypeError, match=r"positions must hold integers \(row, col\), got dtype torch\.(float|bool)"):
            extract_patches(_random_image((3, 10, 10)), positions, 2)

    @pytest.mark.parametrize("positions", [None, "ab", [[1, "a"]]])
    def test_positions_that_are_not_numbers_raise_type_error(self, positions):
        with pytest.raises(TypeError, match="positions must"):
            extract_patches(_random_image((3, 10, 10)), positions, 2)

    @pytest.mark.parametrize("size", [11, 10**30])
    def test_patch_larger_than_the_image_is_refused_even_without_positions(self, size):
        with pytest.raises(ValueError, match=f"patch size {size} does not fit in an image of 10x12"):
            extract_patches(_random_image((3, 10, 12)), torch.zeros(0, 2, dtype=torch.int64), size)

    @pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int64])
    def test_numpy_integer_positions_and_size_accepted(self, dtype):
        x = _random_image((3, 10, 10))
        patch = extract_patches(x, np.array([[1, 2]], dtype=dtype), np.int64(3))
        assert torch.equal(patch[0], x[:, 1:4, 2:5])

    @pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.bool, torch.int8])
    def test_non_uint8_raises_type_error(self, dtype):
        x = torch.zeros(3, 10, 10, dtype=dtype)
        with pytest.raises(TypeError):
            extract_patches(x, [[0, 0]], 2)

    def test_non_tensor_raises_type_error(self):
        with pytest.raises(TypeError):
            extract_patches(np.zeros((3, 10, 10), dtype=np.uint8), [[0, 0]], 2)

    @pytest.mark.parametrize("shape", [(10, 10), (1, 1, 3, 10, 10), (10,)])
    def test_bad_rank_raises_value_error(self, shape):
        with pytest.raises(ValueError):
            extract_patches(torch.zeros(shape, dtype=torch.uint8), [[0, 0]], 2)

    @pytest.mark.parametrize("size", [0, -1])
    def test_non_positive_size_raises_value_error(self, size):
        with pytest.raises(ValueError):
            extract_patches(_random_image((3, 10, 10)), [[0, 0]], size)

    @settings(max_examples=50, deadline=None)
    @given(
        batch=st.one_of(st.none(), st.integers(1, 3)),
        channels=st.integers(1, 4),
        height=st.integers(1, 24),
        width=st.integers(1, 24),
        data=st.data(),
    )
    def test_property_equals_slicing(self, batch, channels, height, width, data):
        size = data.draw(st.integers(1, min(height, width)), label="size")
        positions = data.draw(
            st.lists(
                st.tuples(st.integers(0, height - size), st.integers(0, width - size)), min_size=0, max_size=6
            ),
            label="positions",
        )
        seed = data.draw(st.integers(0, 2**31), label="seed")
        shape = (channels, height, width) if batch is None else (batch, channels, height, width)
        x = _random_image(shape, seed=seed)
        pos = torch.tensor(positions, dtype=torch.int64).reshape(-1, 2)
        patches = extract_patches(x, pos, size)
        if batch is None:
            assert tuple(patches.shape) == (len(positions), channels, size, size)
            for p, (r, c) in enumerate(positions):
                assert torch.equal(patches[p], x[:, r : r + size, c : c + size])
        else:
            assert tuple(patches.shape) == (batch, len(positions), channels, size, size)
            for p, (r, c) in enumerate(positions):
                assert torch.equal(patches[:, p], x[:, :, r : r + size, c : c + size])


class TestColocatedPatches:
    def test_same_places_in_both(self):
        image = _random_image((3, 40, 50), seed=0)
        a, b = colocated_patches(image, image ^ 0xFF, size=8, count=20, seed=1)
        assert tuple(a.shape) == tuple(b.shape) == (20, 3, 8, 8)
        assert torch.equal(b, a ^ 0xFF)

    def test_positions_come_from_patch_positions(self):
        image = _random_image((3, 40, 50), seed=0)
        other = _random_image((3, 40, 50), seed=1)
        a, b = colocated_patches(image, other, size=8, count=20, seed=7)
        positions = patch_positions(40, 50, 8, 20, 7)
        assert torch.equal(a, extract_patches(image, positions, 8))
        assert torch.equal(b, extract_patches(other, positions, 8))

    def test_deterministic_and_seed_dependent(self):
        image = _random_image((3, 40, 50), seed=0)
        a1, _ = colocated_patches(image, image, 8, 20, seed=1)
        a2, _ = colocated_patches(image, image, 8, 20, seed=1)
        a3, _ = colocated_patches(image, image, 8, 20, seed=2)
        assert torch.equal(a1, a2)
        assert not torch.equal(a1, a3)

    def test_batch(self):
        images_ = _random_image((2, 1, 30, 30), seed=0)
        a, b = colocated_patches(images_, images_ ^ 0x0F, size=5, count=7, seed=0)
        assert tuple(a.shape) == (2, 7, 1, 5, 5)
        assert torch.equal(b, a ^ 0x0F)

    def test_on_device(self, device):
        image = _random_image((3, 32, 32), seed=0).to(device)
        a, b = colocated_patches(image, image ^ 0xFF, size=4, count=6, seed=3)
        assert a.device.type == device.type and b.device.type == device.type
        assert torch.equal(b, a ^ 0xFF)

    @pytest.mark.parametrize("other_shape", [(3, 40, 49), (1, 40, 50), (1, 3, 40, 50)])
    def test_shape_mismatch_raises(self, other_shape):
        with pytest.raises(ValueError):
            colocated_patches(
                _random_image((3, 40, 50)), torch.zeros(other_shape, dtype=torch.uint8), 4, 3, seed=0
            )

    def test_patch_too_big_raises(self):
        image = _random_image((3, 10, 10))
        with pytest.raises(ValueError, match="11"):
            colocated_patches(image, image, 11, 3, seed=0)

    def test_float_image_raises_type_error(self):
        image = torch.zeros(3, 10, 10)
        with pytest.raises(TypeError):
            colocated_patches(image, image, 2, 3, seed=0)

    def test_non_tensor_image_raises_type_error_naming_it(self):
        with pytest.raises(TypeError, match="image must be a torch.Tensor"):
            colocated_patches([[1]], _random_image((3, 10, 10)), 2, 3, seed=0)

    def test_float_seed_raises_type_error(self):
        image = _random_image((3, 10, 10))
        with pytest.raises(TypeError, match="seed must be an int"):
            colocated_patches(image, image, 2, 3, seed=1.7)
