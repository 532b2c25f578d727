"""Ledgerline's ML library: tokenizers, models, training, sampling and the audio VAE.

No Django imports here: the workers call this library, and it runs on its own.
The models arrive with issues 4 and 5.
"""
