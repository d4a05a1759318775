"""S1 snn-tcl: Ho & Chang, "TCL: an ANN-to-SNN Conversion with Trainable Clipping Layers",
DAC 2021, arXiv 2008.04509 (https://arxiv.org/abs/2008.04509).

`TrainableClip` / `insert_clips` (Eqs. 9-11), `convert` (BN folding, TCL / max / percentile
normalisation, IF neurons with reset by subtraction), `SpikingNetwork.simulate` / `evaluate`
(accuracy at every T of a list from one simulation, SOPs), `save_snn` / `load_snn`.
"""

from .convert import METHODS, IFNeuron, Rescale, calibrate, convert, fold_batchnorm, trace
from .model import TrainableClip, clip_layers, clip_penalty, has_clips, insert_clips
from .simulate import SpikingNetwork, ann_macs, evaluate, load_snn, parse_timesteps, save_snn

__all__ = ["TrainableClip", "insert_clips", "clip_layers", "clip_penalty", "has_clips", "IFNeuron", "Rescale",
           "convert", "fold_batchnorm", "calibrate", "trace", "METHODS", "SpikingNetwork", "evaluate", "ann_macs",
           "parse_timesteps", "save_snn", "load_snn"]
