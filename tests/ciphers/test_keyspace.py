"""Key-space sizes (log2) and where the pixel-wise and block-wise key spaces cross."""

from __future__ import annotations

import math

import numpy as np
import pytest

from imgleak.ciphers.keyspace import crossover, etc_log2, pixelwise_log2, tanaka_log2
from imgleak.ciphers.blockwise import BlockwiseScramble
from imgleak.ciphers.pixelwise import PixelwiseEncryption


def test_tanaka_key_space_is_96_factorial_times_2_to_the_96():
    assert tanaka_log2() == pytest.approx(594.3, abs=0.1)
    assert tanaka_log2() == pytest.approx(math.log2(math.factorial(96)) + 96, rel=1e-12)
    assert tanaka_log2(reversal_from_permutation=True) == pytest.approx(math.log2(math.factorial(96)), rel=1e-12)
    assert tanaka_log2(block=2, channels=1) == pytest.approx(math.log2(math.factorial(8)) + 8)
    assert tanaka_log2() == pytest.approx(BlockwiseScramble().key_space_log2((3, 32, 32)))


def test_pixelwise_key_space():
    assert pixelwise_log2(1) == pytest.approx(3 + math.log2(6))  # 5.585 bits per pixel
    assert pixelwise_log2(96 * 96) == pytest.approx(PixelwiseEncryption().key_space_log2((3, 96, 96)))
    assert pixelwise_log2(2.5, channels=1) == pytest.approx(2.5)


def test_pixelwise_and_tanaka_key_spaces_cross_at_106_pixels():
    n = crossover(pixelwise_log2, tanaka_log2())
    assert n == pytest.approx(106.4, abs=0.1)
    assert n == pytest.approx(tanaka_log2() / pixelwise_log2(1), rel=1e-9)  # the closed form
    assert pixelwise_log2(10 * 10) < tanaka_log2() < pixelwise_log2(11 * 11)
    assert crossover(lambda m: tanaka_log2(), pixelwise_log2) == pytest.approx(n)


def test_crossover_of_size_dependent_key_spaces():
    assert crossover(lambda n: n * math.log2(n), lambda n: 3 * n, lo=2.0) == pytest.approx(8.0, rel=1e-8)
    assert crossover(lambda n: n * math.log2(n), lambda n: 3 * n, lo=2.0, hi=100.0) == pytest.approx(8.0, rel=1e-8)
    # EtC's key space (per image) overtakes Tanaka's (one key) beyond about 54 blocks
    n = crossover(etc_log2, tanaka_log2())
    assert etc_log2(n) == pytest.approx(tanaka_log2(), rel=1e-9)
    assert etc_log2(54) < tanaka_log2() < etc_log2(55)


def test_errors():
    with pytest.raises(ValueError, match="n_pixels must be a positive finite number"):
        pixelwise_log2(0)
    with pytest.raises(ValueError, match="block must be a positive int"):
        tanaka_log2(block=2.5)
    with pytest.raises(ValueError, match="channels must be a positive int"):
        etc_log2(4, channels=0)
    with pytest.raises(ValueError, match="same sign"):
        crossover(pixelwise_log2, tanaka_log2(), lo=1, hi=50)
    with pytest.raises(ValueError, match="do not cross"):
        crossover(pixelwise_log2, -1.0)
    with pytest.raises(ValueError, match="hi must be larger than lo"):
        crossover(pixelwise_log2, tanaka_log2(), lo=10, hi=5)


def test_numpy_numbers_are_accepted_like_python_ones():
    assert tanaka_log2(block=np.int64(4), channels=np.int32(3)) == tanaka_log2()
    assert pixelwise_log2(np.int64(64), channels=np.int64(1)) == pixelwise_log2(64, channels=1) == 64.0
    assert etc_log2(np.float64(2.0), channels=np.int8(1)) == etc_log2(2, channels=1) == 9.0
    assert crossover(lambda n: 2 * n, np.float32(10.0), lo=np.int64(1)) == pytest.approx(5.0)


@pytest.mark.parametrize("flag", ["no", 1, None, [True]])
def test_flags_must_be_bools_not_anything_truthy(flag):
    with pytest.raises(TypeError, match="reversal_from_permutation must be True or False"):
        tanaka_log2(reversal_from_permutation=flag)
    with pytest.raises(TypeError, match="distinct must be True or False"):
        etc_log2(4, distinct=flag)


@pytest.mark.parametrize("size", [float("nan"), float("inf"), -1, "64", True, None])
def test_sizes_that_are_not_positive_finite_numbers_are_refused(size):
    with pytest.raises(ValueError, match="n_blocks must be a positive finite number"):
        etc_log2(size)
    with pytest.raises(ValueError, match="lo must be a positive finite number"):
        crossover(pixelwise_log2, tanaka_log2(), lo=size)


def test_a_constant_that_is_not_a_number_is_refused():
    with pytest.raises(ValueError, match="g must be a finite number, got 'abc'"):
        crossover(pixelwise_log2, "abc")
