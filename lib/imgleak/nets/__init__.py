"""Networks: the U-Net, the DCGAN-style discriminator, small classifiers (CNN, ViT, ResNet variants).

Every image network takes float images in [0, 1] (``uint8 / 255``); generators return [0, 1].
"""
