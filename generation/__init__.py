"""Ledgerline's ML library: tokenizers, models, training, sampling and the audio VAE, each model
family behind one protocol (generation.family) and named in one registry (generation.families).

No Django imports here: the workers call this library, and it runs on its own.
"""
