"""Tests for imgleak.tensors: image-batch checks, rank restoring and device resolution."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from imgleak.tensors import as_image_batch, resolve_device, restore_rank


class TestAsImageBatch:
    def test_single_image_gets_batch_axis(self):
        x = torch.zeros(3, 5, 7, dtype=torch.uint8)
        batch, single = as_image_batch(x)
        assert single is True
        assert tuple(batch.shape) == (1, 3, 5, 7)
        assert batch.data_ptr() == x.data_ptr()  # a view, no copy

    def test_batch_is_returned_as_is(self):
        x = torch.zeros(2, 3, 5, 7, dtype=torch.uint8)
        batch, single = as_image_batch(x)
        assert single is False
        assert batch is x

    @pytest.mark.parametrize("shape", [(3, 5, 7), (2, 3, 5, 7), (1, 1, 1), (4, 1, 1, 1)])
    def test_round_trip(self, shape):
        x = torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        batch, single = as_image_batch(x)
        restored = restore_rank(batch, single)
        assert restored.shape == x.shape
        assert torch.equal(restored, x)

    def test_restore_rank_keeps_batch_of_one(self):
        batch = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
        assert tuple(restore_rank(batch, False).shape) == (1, 3, 4, 4)
        assert tuple(restore_rank(batch, True).shape) == (3, 4, 4)

    def test_restore_rank_of_processed_batch(self):
        # restore_rank only drops the leading axis, whatever the trailing shape is.
        assert tuple(restore_rank(torch.zeros(1, 5, 3, 2, 2), True).shape) == (5, 3, 2, 2)

    @pytest.mark.parametrize("shape", [(5,), (5, 7), (1, 1, 3, 5, 7), ()])
    def test_bad_rank_raises_value_error(self, shape):
        with pytest.raises(ValueError):
            as_image_batch(torch.zeros(shape, dtype=torch.uint8))

    @pytest.mark.parametrize("shape", [(3, 0, 7), (3, 5, 0), (2, 3, 0, 0)])
    def test_empty_spatial_size_raises_value_error(self, shape):
        with pytest.raises(ValueError, match="empty"):
            as_image_batch(torch.zeros(shape, dtype=torch.uint8))

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.int8, torch.bool, torch.uint16])
    def test_non_uint8_raises_type_error(self, dtype):
        with pytest.raises(TypeError, match="uint8"):
            as_image_batch(torch.zeros(3, 4, 4, dtype=dtype))

    def test_float_message_says_how_to_convert(self):
        with pytest.raises(TypeError, match="round"):
            as_image_batch(torch.zeros(3, 4, 4))

    @pytest.mark.parametrize("x", [np.zeros((3, 4, 4), dtype=np.uint8), [[[0]]], None, 3])
    def test_non_tensor_raises_type_error(self, x):
        with pytest.raises(TypeError):
            as_image_batch(x)

    def test_name_appears_in_message(self):
        with pytest.raises(TypeError, match="cipher"):
            as_image_batch(torch.zeros(3, 4, 4), "cipher")
        with pytest.raises(ValueError, match="cipher"):
            as_image_batch(torch.zeros(4, 4, dtype=torch.uint8), "cipher")

    def test_device_is_kept(self, device):
        x = torch.zeros(3, 4, 4, dtype=torch.uint8, device=device)
        batch, _ = as_image_batch(x)
        assert batch.device == x.device


class TestResolveDevice:
    def test_auto(self):
        resolved = resolve_device("auto")
        assert isinstance(resolved, torch.device)
        assert resolved.type in ("cpu", "cuda")
        assert resolved.type == ("cuda" if torch.cuda.is_available() else "cpu")

    def test_default_is_auto(self):
        assert resolve_device() == resolve_device("auto")

    @pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
    def test_cpu(self, device):
        assert resolve_device(device) == torch.device("cpu")

    def test_fixture_device_resolves_to_itself(self, device):
        assert resolve_device(device) == device
        assert resolve_device(str(device)).type == device.type

    @pytest.mark.parametrize("device", ["bogus", "gpu", "", "cuda:x"])
    def test_bogus_raises_value_error(self, device):
        with pytest.raises(ValueError):
            resolve_device(device)

    @pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
    @pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda")])
    def test_cuda_without_cuda_raises_value_error(self, device):
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device(device)

    @pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
    def test_cuda_with_cuda(self):
        assert resolve_device("cuda").type == "cuda"
