"""The symbolic families: an LSTM or a Transformer over MIDI tokens (generation.data, .train,
.sample), as the platform drives them (generation.family)."""
