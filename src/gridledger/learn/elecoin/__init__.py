"""Learning for the elecoin market: DMA-UBRL (WoLF-PHC agents), its compiled kernels, the PettingZoo env."""
