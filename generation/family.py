"""What every model family gives the platform, and the checks its settings share.

A family (the symbolic LSTM and Transformer, the sound VAE, ...) describes the settings a
training run may give it and the parameters a generation may, trains on the files a run's
manifest names, opens its checkpoint, and generates a work's outputs with their provenance.
The platform reads a family from `generation.families.FAMILIES` by the name a run's config
carries and never asks which one it is: a new family is a folder under generation/ and one
line in that registry (docs/ARCHITECTURE.md).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

CHECKPOINT = Path("train/checkpoint")  # where a family leaves its checkpoint in its job's folder
# A progress report: a point for the run's loss curve, and the latest figures (the point plus
# how far it has to go), both small JSON objects.
Progress = Callable[[dict[str, Any], dict[str, Any]], None]


class SettingError(ValueError):
    """A training setting or generation parameter the family cannot take; ``name`` says which.
    The message reads after the setting's kind: "config: <message>." or "parameters: <message>."."""

    def __init__(self, message: str, *, name: str):
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class Setting:
    """One setting of a training run: its type and bounds (or choices), its default, and a label
    for the portal's form. A setting with no default is left out of a config that does not set it."""

    name: str
    kind: type  # int, float, bool or str
    low: float = 0
    high: float = 0
    choices: tuple[str, ...] = ()
    default: Any = None
    label: str = ""

    def clean(self, value: Any) -> Any:
        """``value`` checked and in its type, or a SettingError that names the bounds."""
        if self.kind is bool:
            if not isinstance(value, bool):
                raise SettingError(f"{self.name} must be true or false", name=self.name)
            return value
        if self.kind is str:
            if value not in self.choices:
                raise SettingError(f"{self.name} must be one of {', '.join(self.choices)}", name=self.name)
            return value
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (self.kind is int and value != int(value))
            or not self.low <= value <= self.high
        ):
            article = "an integer" if self.kind is int else "a number"
            raise SettingError(f"{self.name} must be {article} from {self.low:g} to {self.high:g}", name=self.name)
        return self.kind(value)


@dataclass(frozen=True)
class TrainJob:
    """What a run gives its family: a folder to work in (kept between attempts, so training
    resumes from what it holds; the checkpoint goes to ``folder / CHECKPOINT``), the run's files
    under ``data`` as the manifest names them, its cleaned config, where to report progress,
    and the verified checkpoint folder of the model it continues, if any."""

    folder: Path
    data: Path
    manifest: Path  # JSON: {"dataset_roots": [...], "licence": ..., "files": [{"path", "sha256"}]}
    config: Mapping[str, Any]
    progress: Progress
    base: Path | None = None


@dataclass(frozen=True)
class Trained:
    """A finished training: the checkpoint folder (signed and pinned as it is), the figures kept
    on the run, the code version, and how much of each file (by its manifest path) the model
    trained on, which weighs the data's rights holders in royalty splits."""

    checkpoint: Path
    metrics: dict[str, Any]
    code_version: str
    usage: dict[str, int]


@dataclass(frozen=True)
class Request:
    """One work to generate: its seed, its place in its generation, the cleaned parameters, and
    the path of a file a parameter names (for parameters in ``Family.files``)."""

    seed: int
    index: int
    count: int
    parameters: Mapping[str, Any]
    file: Callable[[str], Path]
    device: str = "cpu"


@dataclass(frozen=True)
class Made:
    """A work's outputs by kind ("midi", "wav": a family makes a WAV, or MIDI the platform renders),
    the originality report against the training data, and what regenerating it takes."""

    outputs: dict[str, bytes]
    originality: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)


class Family(Protocol):
    """A model family, read-only: generation.symbolic.family and generation.audio.family are two."""

    @property
    def name(self) -> str:
        """What a run's config says: {"model": name}."""
        ...

    @property
    def label(self) -> str:
        """The portal's name for it."""
        ...

    @property
    def settings(self) -> tuple[Setting, ...]:
        """A run's config, each setting checked by Setting.clean."""
        ...

    @property
    def parameters(self) -> tuple[str, ...]:
        """What a generation may set (the platform adds licence and, with originality, its limit)."""
        ...

    @property
    def files(self) -> Mapping[str, str]:
        """Parameters that name a file the organisation holds (by SHA-256), with its media type."""
        ...

    @property
    def originality(self) -> bool:
        """Whether its works get a melody-originality report the platform holds them by."""
        ...

    @property
    def shape(self) -> tuple[str, ...] | None:
        """The settings a continued model must share; None: its models are only trained new."""
        ...

    @property
    def held_out(self) -> str:
        """What its held-out figure measures, for the portal's curve."""
        ...

    @property
    def design(self) -> bool:
        """Whether its models interpolate between named training sounds (the portal's composer)."""
        ...

    def train(self, job: TrainJob) -> Trained: ...

    def load(self, folder: Path) -> Any:
        """The verified checkpoint folder, opened for generate (once per generation)."""
        ...

    def parameters_clean(self, parameters: Mapping[str, Any], *, metrics: Mapping[str, Any]) -> dict[str, Any]:
        """The family's parameters checked (the names are known already), given the model's run
        metrics; a SettingError names the bad one."""
        ...

    def generate(self, model: Any, request: Request) -> Made:
        """The same every time for the same model and request: regeneration compares it byte for
        byte with what was minted."""
        ...

    def source_share(self, parameters: Mapping[str, Any]) -> float:
        """How much of a work made from a file a parameter names (a recording or another work of
        the organisation: a variation's source) is that source's, from 0 to 1: that part of its
        revenue goes by the source's split. 0 where a file only prompts (a MIDI primer)."""
        ...


def settings_clean(family: Family, config: Mapping[str, Any]) -> dict[str, Any]:
    """``config``'s settings checked by ``family``'s, with the defaults of those it leaves out."""
    clean: dict[str, Any] = {}
    for setting in family.settings:
        if setting.name in config:
            clean[setting.name] = setting.clean(config[setting.name])
        elif setting.default is not None:
            clean[setting.name] = setting.default
    return clean
