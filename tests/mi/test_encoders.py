"""Frozen image encoders: random-init shapes and determinism, input checks, weights loading offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from imgleak.mi.encoders import (
    ENCODERS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Encoder,
    WeightsUnavailableError,
    _find_clip_in_cache,
    cosine_similarity,
    load_encoder,
    rounded_features,
)
from imgleak.mi.histogram import entropy, mutual_information

DIMS = {"clip-vit-b-32": 512, "resnet50": 2048, "resnet18": 512}


@pytest.fixture(scope="module")
def encoders(device: torch.device) -> dict[str, Encoder]:
    """Each random-init encoder, loaded once for the module on the test device."""
    return {name: load_encoder(name, pretrained=False, device=device) for name in ENCODERS}


def images(n: int, size: int = 224, channels: int = 3, seed: int = 0, device="cpu") -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8).to(device)


@pytest.fixture
def empty_caches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Every weights cache points into an empty ``tmp_path``; downloads are switched off."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # restored after the test
    torch.hub.set_dir(str(tmp_path / "torch" / "hub"))
    return tmp_path


def penultimate(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Reference ResNet embedding: ImageNet normalisation, then the network without ``fc``."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    model = model.eval()
    model.fc = torch.nn.Identity()
    with torch.no_grad():
        return model((x.float() / 255 - mean) / std)


def cross_device_tol(device: torch.device) -> dict[str, float]:
    """Tolerance against a CPU reference (CUDA convolutions may use TF32)."""
    return {"rtol": 1e-4, "atol": 1e-4} if device.type == "cpu" else {"rtol": 1e-2, "atol": 1e-2}


def other_resnet18() -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(1234)
        return torchvision.models.resnet18(weights=None)


# ------------------------------------------------------------------------- random-init encoders


@pytest.mark.parametrize("name", ENCODERS)
def test_cardinality_and_determinism(encoders: dict[str, Encoder], device: torch.device, name: str) -> None:
    enc = encoders[name]
    x = images(2, device=device)
    emb = enc.embed(x)
    assert emb.shape == (2, DIMS[name]) and enc.dim == DIMS[name]
    assert emb.dtype == torch.float32 and emb.device == x.device and enc.device == device
    assert torch.isfinite(emb).all() and not torch.equal(emb[0], emb[1])
    assert not emb.is_inference()  # usable as MINE input under autograd
    assert enc.pretrained is False and "random init, NOT pretrained" in enc.description
    assert not enc.model.training and not any(p.requires_grad for p in enc.model.parameters())
    again = enc.embed(x, batch_size=1)  # same images -> same embeddings, whatever the batching
    torch.testing.assert_close(again, emb, rtol=1e-4, atol=1e-4)
    single = enc.embed(x[1])  # (C, H, W) -> (dim,)
    assert single.shape == (DIMS[name],)
    torch.testing.assert_close(single, again[1])


@pytest.mark.parametrize("name", ["clip-vit-b-32", "resnet18"])
def test_random_init_is_reproducible(encoders: dict[str, Encoder], name: str) -> None:
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    again = load_encoder(name, pretrained=False, device="cpu")
    assert torch.equal(torch.rand(3), expected)  # the caller's random stream is left alone
    first = encoders[name].model.state_dict()
    for key, value in again.model.state_dict().items():
        assert torch.equal(value, first[key].cpu()), key


@pytest.mark.parametrize("name", ENCODERS)
def test_grey_input(encoders: dict[str, Encoder], device: torch.device, name: str) -> None:
    grey = images(1, size=encoders[name].input_size or 64, channels=1, seed=2, device=device)
    torch.testing.assert_close(
        encoders[name].embed(grey), encoders[name].embed(grey.repeat(1, 3, 1, 1)), rtol=1e-4, atol=1e-4
    )


def test_clip_needs_224_unless_resized(encoders: dict[str, Encoder], device: torch.device) -> None:
    clip = encoders["clip-vit-b-32"]
    small = images(2, size=64, device=device)
    with pytest.raises(ValueError, match="224") as err:
        clip.embed(small)
    assert "resize=True" in str(err.value)
    assert clip.embed(small, resize=True).shape == (2, 512)


@pytest.mark.parametrize("name", ["resnet50", "resnet18"])
def test_resnet_any_size(encoders: dict[str, Encoder], device: torch.device, name: str) -> None:
    enc = encoders[name]
    assert enc.embed(images(2, size=64, device=device)).shape == (2, DIMS[name])
    assert enc.embed(images(1, size=40, device=device)[..., :33]).shape == (1, DIMS[name])  # 40x33
    with pytest.raises(ValueError, match="32x32"):
        enc.embed(images(1, size=16, device=device))


def test_resize(encoders: dict[str, Encoder], device: torch.device) -> None:
    enc = encoders["resnet18"]
    x = images(3, device=device)
    small = images(1, size=16, device=device)
    assert enc.embed(small, resize=True).shape == (1, 512)
    # resize is a no-op at 224x224; on CUDA another batch size may pick another cuDNN algorithm (float32 sums in
    # another order), hence the same tolerance as the batching check above
    torch.testing.assert_close(enc.embed(x, resize=True, batch_size=2, progress=True), enc.embed(x),
                               rtol=1e-4, atol=1e-4)
    assert enc.embed(x[:0]).shape == (0, 512)


def test_exceptions(encoders: dict[str, Encoder], tmp_path: Path) -> None:
    enc = encoders["resnet18"]
    with pytest.raises(TypeError, match="uint8"):
        enc.embed(torch.rand(1, 3, 224, 224))
    with pytest.raises(ValueError, match="channels"):
        enc.embed(images(1, channels=4))
    with pytest.raises(ValueError, match="batch_size"):
        enc.embed(images(1), batch_size=0)
    with pytest.raises(ValueError, match=r"clip-vit-b-32.*resnet50.*resnet18"):
        load_encoder("vgg16", pretrained=False)
    with pytest.raises(FileNotFoundError, match=r"nope\.pth"):
        load_encoder("resnet18", weights=tmp_path / "nope.pth")
    with pytest.raises(ValueError, match="pretrained=False"):
        load_encoder("resnet18", pretrained=False, weights=tmp_path / "nope.pth")
    junk = tmp_path / "junk.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, junk)
    with pytest.raises(ValueError, match=r"junk\.pth"):
        load_encoder("resnet18", weights=junk, device="cpu")


# ----------------------------------------------------------------------------- pretrained weights


@pytest.mark.parametrize("name", ENCODERS)
def test_missing_weights_offline(empty_caches: Path, name: str) -> None:
    with pytest.raises(WeightsUnavailableError, match=name) as err:
        load_encoder(name, device="cpu")
    assert isinstance(err.value, RuntimeError)
    message = str(err.value)
    assert str(empty_caches) in message and "pretrained=False" in message and "http" not in message


def test_torch_hub_cache_is_found(empty_caches: Path, device: torch.device) -> None:
    reference = other_resnet18()
    checkpoints = empty_caches / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(reference.state_dict(), checkpoints / "resnet18-f37072fd.pth")
    enc = load_encoder("resnet18", device=device)
    assert enc.pretrained is True and "ImageNet" in enc.description
    assert enc.weights_path == str(checkpoints / "resnet18-f37072fd.pth")
    x = images(2, size=64)
    torch.testing.assert_close(enc.embed(x.to(device)).cpu(), penultimate(reference, x), **cross_device_tol(device))


@pytest.mark.parametrize("with_fc", [True, False])
def test_local_weights_file(tmp_path: Path, device: torch.device, with_fc: bool) -> None:
    reference = other_resnet18()
    state = reference.state_dict()
    if not with_fc:
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    path = tmp_path / "my-resnet18.pth"
    torch.save(state, path)
    enc = load_encoder("resnet18", weights=str(path), device=device)
    assert enc.pretrained is True and "my-resnet18.pth" in enc.description
    x = images(2, size=64, seed=3)
    expected = penultimate(reference, x)
    torch.testing.assert_close(enc.embed(x.to(device)).cpu(), expected, **cross_device_tol(device))
    if with_fc:  # and the file's weights, not the random init, were used
        random_init = load_encoder("resnet18", pretrained=False, device=device)
        assert not torch.allclose(random_init.embed(x.to(device)).cpu(), expected)


def test_hf_cache_is_found_for_clip(empty_caches: Path) -> None:
    snapshot = "0123abcd"
    repo = empty_caches / "hf" / "hub" / "models--timm--vit_base_patch32_clip_224.openai"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(snapshot)
    cached = repo / "snapshots" / snapshot / "open_clip_model.safetensors"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not a checkpoint")
    assert _find_clip_in_cache() == cached
    with pytest.raises(ValueError, match=r"open_clip_model\.safetensors"):  # found, read, and rejected
        load_encoder("clip-vit-b-32", device="cpu")


# --------------------------------------------------------------------------------------- helpers


def test_cosine_similarity() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    b = torch.tensor([[2.0, 0.0], [-1.0, -1.0], [3.0, 0.0]])
    torch.testing.assert_close(cosine_similarity(a, b), torch.tensor([1.0, -1.0, 0.0]))
    assert cosine_similarity(a[0], b[0]).shape == ()
    with pytest.raises(ValueError, match="same shape"):
        cosine_similarity(a, b[:2])
    with pytest.raises(TypeError, match="floating"):
        cosine_similarity(a.long(), b)


def test_rounded_features() -> None:
    emb = torch.tensor([[0.123, -0.456], [0.5, 0.04]])
    codes = rounded_features(emb, 1)
    assert codes.dtype == torch.int64
    assert codes.tolist() == [[6, 0], [10, 5]]  # round(10 * emb) = [[1, -5], [5, 0]], shifted by +5
    x = torch.randn(50, 8)
    cx = rounded_features(x, 1)
    assert mutual_information(cx, cx) == pytest.approx(entropy(cx))
    with pytest.raises(TypeError, match="decimals"):
        rounded_features(emb, 1.5)
    with pytest.raises(TypeError, match="floating"):
        rounded_features(codes, 1)
    with pytest.raises(ValueError, match="NaN"):
        rounded_features(torch.tensor([float("nan")]), 1)


def test_embed_flags_and_batch_size_are_checked(encoders: dict[str, Encoder], device: torch.device) -> None:
    enc = encoders["resnet18"]
    x = images(3, size=32, device=device)
    assert torch.equal(enc.embed(x, batch_size=np.int64(2)), enc.embed(x, batch_size=2))
    for flag in ("progress", "resize"):
        with pytest.raises(TypeError, match=f"{flag} must be True or False, got 'no'"):
            enc.embed(x, **{flag: "no"})
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 2.0"):
        enc.embed(x, batch_size=2.0)
    with pytest.raises(TypeError, match="pretrained must be True or False"):
        load_encoder("resnet18", pretrained="no")


@pytest.mark.parametrize("eps", [-1.0, float("nan"), "0", True])
def test_cosine_similarity_refuses_a_bad_eps(eps) -> None:
    a = torch.tensor([[1.0, 0.0]])
    with pytest.raises(ValueError, match="eps must be a non-negative finite number"):
        cosine_similarity(a, a, eps=eps)


def test_rounded_features_refuses_codes_beyond_int64_and_takes_numpy_decimals() -> None:
    emb = torch.tensor([[0.123, -0.456], [0.5, 0.04]])
    assert torch.equal(rounded_features(emb, np.int64(1)), rounded_features(emb, 1))
    for decimals in (19, 10**30):
        with pytest.raises(ValueError, match=f"decimals={decimals} gives codes beyond int64"):
            rounded_features(emb, decimals)
    assert rounded_features(emb, -(10**30)).tolist() == [[0, 0], [0, 0]]
