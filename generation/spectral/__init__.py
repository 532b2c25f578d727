"""Spectrogram diffusion: a tag-conditioned UNet over log-mel images of recordings (Riffusion)."""
