"""The score model: SDE, network, masks, samplers, checkpoints and training."""
