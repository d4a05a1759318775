"""Shared vision backbones (VGG, ResNet, SmallCNN). Systems import them; never copy them."""

from .backbones import VGG, VGG16_CFG, BasicBlock, Bottleneck, ResNet, SmallCNN

__all__ = ["VGG", "VGG16_CFG", "ResNet", "BasicBlock", "Bottleneck", "SmallCNN"]
