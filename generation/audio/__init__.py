"""Sound design with a waveform VAE (the ASCIML workflow of seed 003): design a set of one-second
sounds, look at it, train a VAE on it, and make new sounds between them. No Django imports."""
