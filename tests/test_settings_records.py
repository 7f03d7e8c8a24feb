"""The settings records (``asdict`` of each run's filled config) keep the keys that recorded runs
have, so that runs recorded before and after a change still compare; and every config takes keyword
overrides the same way."""

from __future__ import annotations

import dataclasses

import pytest
from imgleak.attacks.gan import GANAttackConfig
from imgleak.attacks.inverse_network import ITNConfig
from imgleak.mi.config import NeuralMIConfig
from imgleak.training.classifier import ClassifierConfig
from imgleak.training.run_settings import RunSettings, configured
from imgleak.training.transform_nets import TNGANConfig, TNModelConfig

RECORD_KEYS = {
    ClassifierConfig: (
        "batch_size crop_padding device effective_batch_size epochs eval_batch_size flip grad_clip image_shape "
        "input_size lr lr_schedule mean model model_options momentum n_test n_train nesterov num_classes "
        "num_threads optimizer resize_mode ricap ricap_beta seed std steps_per_epoch warmup_epochs warmup_steps "
        "weight_decay"),
    TNModelConfig: (
        "batch_size classifier classifier_epochs classifier_lr classifier_width device dissimilarity epochs "
        "evaluated_on image_shape lam lr num_classes num_threads optimizer seed unet"),
    TNGANConfig: (
        "batch_size betas cycle_weight device discriminator epochs gan_loss image_shape lr n_plain n_protected "
        "num_threads seed target unet"),
    ITNConfig: (
        "architecture batch_size device epochs gamma image_shape loss lr milestones momentum n_test num_threads "
        "optimizer options seed weight_decay"),
    GANAttackConfig: (
        "architecture batch_norm batch_size betas device discriminator epochs image_shape init loss lr n_cipher "
        "n_plain n_test num_threads optimizer options seed"),
    NeuralMIConfig: (
        "activation batch_size batches_per_epoch clip critic device dim_x dim_y early_stopping effective_batch_size "
        "ema_decay embedding epochs hidden layers lr lr_schedule n objective optimizer ranks seed standardize "
        "test_fraction test_shuffles"),
}


@pytest.mark.parametrize("kind", list(RECORD_KEYS), ids=lambda kind: kind.__name__)
def test_each_settings_record_keeps_its_keys(kind: type[RunSettings]) -> None:
    assert set(dataclasses.asdict(kind())) == set(RECORD_KEYS[kind].split())


@pytest.mark.parametrize("kind", list(RECORD_KEYS), ids=lambda kind: kind.__name__)
def test_each_config_is_a_run_settings_with_named_overrides(kind: type[RunSettings]) -> None:
    config = kind(device="cpu")
    assert isinstance(config, RunSettings) and configured(config, kind, {"epochs": 3}).epochs == 3
    with pytest.raises(TypeError, match=f"unknown setting 'epoch' for {kind.__name__} \\(did you mean 'epochs'"):
        configured(config, kind, {"epoch": 3})
    with pytest.raises(TypeError, match=f"config must be a {kind.__name__}, got RunSettings"):
        configured(RunSettings(), kind, {})


def _entry_points():
    import torch
    from imgleak.attacks.gan import train_gan_attack
    from imgleak.attacks.inverse_network import train_inverse_network
    from imgleak.mi.mine import estimate_mi, estimate_mi_many
    from imgleak.training.classifier import train_classifier
    from imgleak.training.transform_nets import train_tn_gan, train_tn_model

    x = torch.zeros(4, 3, 16, 16, dtype=torch.uint8)
    y = torch.zeros(4, dtype=torch.int64)
    v = torch.zeros(20, 2)
    return {
        "train_classifier": lambda **kw: train_classifier((x, y), (x, y), **kw),
        "train_tn_model": lambda **kw: train_tn_model(x, y, **kw),
        "train_tn_gan": lambda **kw: train_tn_gan(x, **kw),
        "train_inverse_network": lambda **kw: train_inverse_network(x, x, **kw),
        "train_gan_attack": lambda **kw: train_gan_attack(x, x, **kw),
        "estimate_mi": lambda **kw: estimate_mi(v, v, **kw),
        "estimate_mi_many": lambda **kw: estimate_mi_many([(v, v)], **kw),
    }


@pytest.mark.parametrize("name", list(_entry_points()))
def test_each_entry_point_names_a_bad_override_or_config(name: str) -> None:
    run = _entry_points()[name]
    with pytest.raises(TypeError, match="unknown setting 'batchsize' .*did you mean 'batch_size'.*; accepted: "):
        run(batchsize=8)
    with pytest.raises(TypeError, match="config must be a .*Config, got RunSettings"):
        run(config=RunSettings())
