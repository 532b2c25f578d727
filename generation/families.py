"""The registry of model families: the name a run's config carries, and its family. A new
family is a folder under generation/ implementing generation.family.Family, and one line here."""

from generation.audio.family import Sound
from generation.family import Family
from generation.spectral.family import Spectral
from generation.symbolic.family import Symbolic, symbolic_settings

FAMILIES: dict[str, Family] = {
    "lstm": Symbolic("lstm", "LSTM (symbolic)", symbolic_settings("lstm")),
    "transformer": Symbolic("transformer", "Transformer (symbolic)", symbolic_settings("transformer")),
    "audio": Sound(),
    "spectrogram": Spectral(),
}
DEFAULT = "lstm"  # the family of a run whose config names none
