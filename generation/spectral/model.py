"""The network: diffusers' UNet2DModel over spectrogram windows, conditioned on tags.

A window (1 x MELS x FRAMES) is folded into PATCH x PATCH patches (pixel unshuffle: 16 channels
at 16 x 32), which makes a step four times cheaper on a CPU than the full image at the same width
and loses nothing (the fold is undone on the way out). The prompt's tags, a multi-hot vector over
the model's vocabulary, are embedded as the mean of learned tag vectors, or as a learned "no
prompt" vector (training drops the tags of one window in ten: classifier-free guidance), and
added to the timestep embedding (``class_embed_type="identity"``). Interpolating two prompts'
embeddings morphs between them.

The noise schedule is diffusers' (cosine, 1,000 steps, v-prediction: the network predicts
alpha * noise - sigma * image, which stays well scaled at both ends of the schedule).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel
from torch import nn

from generation.spectral.spectrogram import FRAMES, MELS

GROUPS = 8  # group norm's groups: every level's width is a multiple
SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_schedule": "squaredcos_cap_v2",
    "prediction_type": "v_prediction",
    "clip_sample": False,
}


@dataclass(frozen=True)
class SpectralConfig:
    vocabulary: list[str] = field(default_factory=list)  # sorted tags; the embedding's rows
    channels: int = 128  # width of the first level; the next two 1.5x and 2x (each rounded up to 8s)
    patch: int = 4  # pixel-unshuffle factor (MELS and FRAMES must divide by patch x 4)
    layers: int = 1  # ResNet blocks per level
    drop: float = 0.1  # share of training windows whose tags are dropped (guidance)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SpectralConfig:
        return cls(**{k: values[k] for k in cls.__dataclass_fields__ if k in values})


class TagDiffusion(nn.Module):
    def __init__(self, config: SpectralConfig):
        super().__init__()
        self.config = config
        width = config.channels
        levels = tuple(-(-w // GROUPS) * GROUPS for w in (width, width * 3 // 2, width * 2))
        embed = levels[0] * 4  # the UNet's time-embedding width
        self.tags = nn.Parameter(torch.randn(max(1, len(config.vocabulary)), embed) * 0.02)
        self.empty = nn.Parameter(torch.zeros(embed))
        self.project = nn.Sequential(nn.Linear(embed, embed), nn.SiLU(), nn.Linear(embed, embed))
        self.unet = UNet2DModel(
            sample_size=(MELS // config.patch, FRAMES // config.patch),
            in_channels=config.patch**2,
            out_channels=config.patch**2,
            block_out_channels=levels,
            down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
            layers_per_block=config.layers,
            class_embed_type="identity",
            norm_num_groups=GROUPS,
        )

    def embed(self, multi_hot: torch.Tensor) -> torch.Tensor:
        """Batch x vocabulary (0/1) -> batch x embedding; a row without tags is "no prompt"."""
        count = multi_hot.sum(dim=1, keepdim=True)
        mean = multi_hot @ self.tags / count.clamp(min=1)
        return torch.where(count > 0, mean, self.empty.expand_as(mean))

    def forward(self, images: torch.Tensor, timesteps: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """The v-prediction for noisy images (batch x 1 x MELS x width; width a multiple of the
        patch x 4) at the timesteps, given embed()'s (or interpolated) conditioning."""
        folded = nn.functional.pixel_unshuffle(images, self.config.patch)
        out = self.unet(folded, timesteps, class_labels=self.project(embedding)).sample
        return nn.functional.pixel_shuffle(out, self.config.patch)

    def multi_hot(self, tags: list[list[str]]) -> torch.Tensor:
        index = {t: i for i, t in enumerate(self.config.vocabulary)}
        out = torch.zeros(len(tags), self.tags.shape[0])
        for row, names in enumerate(tags):
            for name in names:
                out[row, index[name]] = 1.0
        return out


def training_schedule() -> DDPMScheduler:
    return DDPMScheduler(**SCHEDULE)


def sampling_schedule() -> DDIMScheduler:
    """DDIM with eta 0: deterministic, so a seed gives one picture; "trailing" spacing reaches
    the last training step, so few steps start from pure noise."""
    return DDIMScheduler(**SCHEDULE, timestep_spacing="trailing", set_alpha_to_one=False)
