"""Waveform VAEs for one-second 16 kHz sounds, with a 128-d latent that the generator interpolates.

Two models share one interface (`encode` -> mean, log-variance; `decode` -> samples in [-1, 1]):

- `baseline`: the thesis' network (ASCIML, annex 1-2) in PyTorch. Conv encoder 64/128/256 filters,
  kernel 66, stride 4 ("same" padding: 16000 -> 4000 -> 1000 -> 250), dense 256, a 128-d latent;
  the decoder mirrors it (dense to 250x256, transposed convs 128/64/1, tanh). Trained on the
  squared error of the samples plus the KL term, as the thesis did.
- `spectral`: the improved model. The encoder reads a log-magnitude spectrogram rather than raw
  samples (pitch and timbre are plain there, and it costs an FFT instead of two 540M-MAC convs);
  the decoder upsamples 125 frames to 16000 samples through transposed convs with residual dilated
  blocks (the HiFi-GAN/RAVE shape) into a waveform and an amplitude (a sigmoid, as RAVE's, so that
  silence is silent rather than low noise), and the model is trained on a multi-resolution STFT loss, which
  does not punish a phase it cannot know: the squared error on samples does, and its compromise is
  the noise the thesis' users heard.

Both learn with a KL term warmed up linearly from 0, so the early epochs learn to reconstruct.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from generation.audio.synth import CLIP_SAMPLES

KINDS = ("baseline", "spectral")


@dataclass(frozen=True)
class VAEConfig:
    kind: str = "spectral"  # "baseline" (the thesis' network) or "spectral" (the improved one)
    latent: int = 128  # the thesis' code size
    hidden: int = 256  # the dense layer before the latent (thesis: 256)
    channels: int = 256  # spectral: width of the decoder's first stage; each upsampling halves it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class VAE(nn.Module):
    config: VAEConfig
    mean: nn.Linear
    logvar: nn.Linear

    def encode(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def decode(self, z: Tensor) -> Tensor:
        raise NotImplementedError

    def latent(self, hidden: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance; the log-variance is bounded so that exp() cannot overflow."""
        return self.mean(hidden), self.logvar(hidden).clamp(-20.0, 10.0)

    def forward(self, audio: Tensor, *, sample: bool = True) -> tuple[Tensor, Tensor, Tensor]:
        """Reconstruction, mean and log-variance. `sample=False` decodes the mean (evaluation)."""
        mean, logvar = self.encode(audio)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean
        return self.decode(z), mean, logvar


def kl_divergence(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, var) || N(0, 1)), summed over the latent, averaged over the batch."""
    return (-0.5 * (1 + logvar - mean.pow(2) - logvar.exp()).sum(dim=1)).mean()


class BaselineVAE(VAE):
    KERNEL, STRIDE, PAD = 66, 4, 31  # Keras "same": ceil(n / 4) outputs, 62 padded in total

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        k, s, p = self.KERNEL, self.STRIDE, self.PAD
        self.encoder = nn.Sequential(
            nn.Conv1d(1, 64, k, s, p), nn.ReLU(),
            nn.Conv1d(64, 128, k, s, p), nn.ReLU(),
            nn.Conv1d(128, 256, k, s, p), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(256 * 250, config.hidden), nn.ReLU(),
        )  # fmt: skip
        self.mean = nn.Linear(config.hidden, config.latent)
        self.logvar = nn.Linear(config.hidden, config.latent)
        self.expand = nn.Sequential(nn.Linear(config.latent, 256 * 250), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.ConvTranspose1d(256, 128, k, s, p), nn.ReLU(),
            nn.ConvTranspose1d(128, 64, k, s, p), nn.ReLU(),
            nn.ConvTranspose1d(64, 1, k, s, p), nn.Tanh(),
        )  # fmt: skip

    def encode(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        return self.latent(self.encoder(audio.unsqueeze(1)))

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(self.expand(z).view(-1, 256, 250)).squeeze(1)


class Residual(nn.Module):
    """Dilated convolutions 1, 3, 9 with skip connections: a receptive field of 27 steps."""

    def __init__(self, channels: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, 3, padding=d, dilation=d) for d in (1, 3, 9))

    def forward(self, x: Tensor) -> Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, 0.2))
        return x


class SpectralVAE(VAE):
    N_FFT, HOP = 512, 128  # the encoder's spectrogram: 257 bins x 126 frames
    FRAMES = 125  # the decoder's first stage; x4 x4 x8 = 16000 samples
    UPSAMPLE = (4, 4, 8)

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        bins = self.N_FFT // 2 + 1
        self.register_buffer("window", torch.hann_window(self.N_FFT), persistent=False)
        width = config.channels
        self.encoder = nn.Sequential(
            nn.Conv1d(bins, width, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv1d(width, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv1d(width, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(width * 31, config.hidden), nn.LeakyReLU(0.2),
        )  # fmt: skip
        self.mean = nn.Linear(config.hidden, config.latent)
        self.logvar = nn.Linear(config.hidden, config.latent)
        self.expand = nn.Linear(config.latent, width * self.FRAMES)
        stages: list[nn.Module] = []
        for factor in self.UPSAMPLE:
            stages += [nn.LeakyReLU(0.2), nn.ConvTranspose1d(width, width // 2, 2 * factor, factor, factor // 2)]
            width //= 2
            stages.append(Residual(width))
        stages += [nn.LeakyReLU(0.2), nn.Conv1d(width, 2, 7, padding=3)]
        self.decoder = nn.Sequential(*stages)

    def spectrogram(self, audio: Tensor) -> Tensor:
        window = self.get_buffer("window")
        spec = torch.stft(audio, self.N_FFT, self.HOP, window=window, return_complex=True)
        return (torch.log(spec.abs() + 1e-4) + 4) / 4  # about -1.3 (silence) to 2.4 (full scale)

    def encode(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        return self.latent(self.encoder(self.spectrogram(audio)))

    def decode(self, z: Tensor) -> Tensor:
        frames = self.expand(z).view(z.shape[0], self.config.channels, self.FRAMES)
        wave, amplitude = self.decoder(frames).unbind(1)
        return torch.tanh(wave) * torch.sigmoid(amplitude)


def vae_build(config: VAEConfig) -> VAE:
    if config.kind not in KINDS:
        raise ValueError(f"unknown model {config.kind!r}; choose one of {', '.join(KINDS)}")
    return BaselineVAE(config) if config.kind == "baseline" else SpectralVAE(config)


STFT_SIZES = (2048, 1024, 512, 256, 128)


def mrstft_loss(estimate: Tensor, target: Tensor, sizes: tuple[int, ...] = STFT_SIZES) -> Tensor:
    """Multi-resolution STFT loss (Yamamoto et al. 2020): spectral convergence plus the L1 distance
    of log magnitudes, averaged over FFT sizes with hops of a quarter. Zero only for equal
    magnitudes at every resolution; blind to a constant phase shift, which the ear is too."""
    total = estimate.new_zeros(())
    for size in sizes:
        window = torch.hann_window(size, device=estimate.device)
        a, b = (torch.stft(x, size, size // 4, window=window, return_complex=True).abs() for x in (estimate, target))
        convergence = torch.linalg.norm(b - a, dim=(1, 2)) / torch.linalg.norm(b, dim=(1, 2)).clamp_min(1e-7)
        log_distance = (torch.log(a.clamp_min(1e-5)) - torch.log(b.clamp_min(1e-5))).abs().mean(dim=(1, 2))
        total = total + (convergence + log_distance).mean()
    return total / len(sizes)


def parameter_count(model: nn.Module) -> int:
    return sum(math.prod(p.shape) for p in model.parameters())


assert CLIP_SAMPLES == 16_000 == SpectralVAE.FRAMES * math.prod(SpectralVAE.UPSAMPLE)
