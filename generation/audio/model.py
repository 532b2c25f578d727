"""Waveform VAEs for one-second 16 kHz sounds, with a 128-d latent that the generator interpolates.

Three models share one interface (`encode` -> mean, log-variance; `decode` -> samples in [-1, 1]):

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
  the noise the thesis' users heard. Still the default: see `ddsp`.
- `ddsp`: a harmonic oscillator bank plus filtered noise whose f0 and loudness the latent holds
  linearly (`DDSPVAE`): the pitch is right by construction (bench/audio_vae.py), but within the
  same budget its timbre is not yet as near the clips as the spectral model's (MR-STFT), so it
  is an option rather than the default.

All learn with a KL term warmed up linearly from 0, so the early epochs learn to reconstruct.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from generation.audio.synth import CLIP_SAMPLES, SAMPLE_RATE

KINDS = ("baseline", "spectral", "ddsp")


@dataclass(frozen=True)
class VAEConfig:
    kind: str = "ddsp"  # "baseline" (the thesis' network), "spectral", or "ddsp" (pitch by construction)
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


class SpectrogramVAE(VAE):
    """The encoder the spectral and DDSP models share: a log-magnitude spectrogram (257 bins x
    126 frames), three convolutions over frames, a dense layer, the latent's mean and log-variance."""

    N_FFT, HOP = 512, 128

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

    def spectrogram(self, audio: Tensor) -> Tensor:
        window = self.get_buffer("window")
        spec = torch.stft(audio, self.N_FFT, self.HOP, window=window, return_complex=True)
        return (torch.log(spec.abs() + 1e-4) + 4) / 4  # about -1.3 (silence) to 2.4 (full scale)

    def encode(self, audio: Tensor) -> tuple[Tensor, Tensor]:
        return self.latent(self.encoder(self.spectrogram(audio)))


class SpectralVAE(SpectrogramVAE):
    FRAMES = 125  # the decoder's first stage; x4 x4 x8 = 16000 samples
    UPSAMPLE = (4, 4, 8)

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        width = config.channels
        self.expand = nn.Linear(config.latent, width * self.FRAMES)
        stages: list[nn.Module] = []
        for factor in self.UPSAMPLE:
            stages += [nn.LeakyReLU(0.2), nn.ConvTranspose1d(width, width // 2, 2 * factor, factor, factor // 2)]
            width //= 2
            stages.append(Residual(width))
        stages += [nn.LeakyReLU(0.2), nn.Conv1d(width, 2, 7, padding=3)]
        self.decoder = nn.Sequential(*stages)

    def decode(self, z: Tensor) -> Tensor:
        frames = self.expand(z).view(z.shape[0], self.config.channels, self.FRAMES)
        wave, amplitude = self.decoder(frames).unbind(1)
        return torch.tanh(wave) * torch.sigmoid(amplitude)


NOISE_RMS = 1 / math.sqrt(3)  # of the uniform noise in [-1, 1] that the DDSP model filters
# Per frame (DDSPVAE.measure): f0 (Hz), voiced (0 or 1), loudness, and the amplitudes of the
# harmonics (batch x harmonics x frames) and of the noise bands (batch x bands x frames) in the clip
Measured = tuple[Tensor, Tensor, Tensor, Tensor, Tensor]


class DDSPVAE(SpectrogramVAE):
    """A harmonic oscillator bank plus filtered noise (DDSP, Engel et al. 2020), driven per frame
    by what the latent holds: its f0, loudness, harmonic distribution and noise spectrum.

    The decoder makes the sound's pitch by construction: the oscillators run at k x f0, and
    log2 f0 of each of the 125 frames is a *linear* function of the latent, supervised by the
    training clips' own f0 (YIN, `features.yin`) on their voiced frames; so is each frame's
    loudness, supervised by the clips' RMS. The encoder reads both: the first latent dimensions
    are the clip's YIN pitch contour (log2 f0 / 440 Hz, 200 ms spans) and loudness envelope
    (40 ms spans); the rest come from its log spectrogram, as the spectral model's do. The
    timbre heads only share each frame's loudness out among the harmonics and the noise bands,
    so no decoder can fall silent to lower the spectral loss. So a latent between two sounds
    has the geometric mean of their pitches (a log-linear glide along a path), a sound from the
    prior has a pitch drawn from N(440 Hz, an octave), and no frame rate of the decoder can be
    heard as a buzz. A convolutional stack over frames shapes the timbre: the level of every
    harmonic and noise band, supervised by the levels read from the clip's own spectrum
    (`analyse`) as well as by the multi-resolution STFT loss, which alone left the model on
    plateaus with one timbre for every clip. The phase comes from f0 alone, so that loss does not
    pull f0 through sinusoids it cannot learn from.
    """

    FRAMES, FRAME = 125, 128  # decoder frames of 8 ms: 125 x 128 = 16000 samples
    HARMONICS = 64
    BANDS = 16  # the noise filter's bands over 0-8 kHz: 500 Hz each, too coarse to imitate harmonics
    NOISE_FFT = 256
    ANALYSIS_FFT = 1024  # the spectrum the timbre targets are read from (15.6 Hz bins)
    TIMBRE_WEIGHT = 1.0  # the levels' mean |ln error| beside the f0 error (octaves) in `control_loss`
    TIMBRE_FLOOR = 1e-3  # levels 60 dB below the frame's RMS count as silent: nobody hears them
    REFERENCE = 440.0  # Hz at log2 f0 = 0
    PITCH_POINTS = 5  # latent dimensions holding the input's pitch contour, 25 frames (200 ms) each
    LOUDNESS_POINTS = 25  # and its loudness contour, 5 frames (40 ms) each
    LOGIT_SCALE = 10.0  # the heads' outputs x10: an optimiser step moves a level by decibels, not hundredths
    CONTROLS = 50  # the timbre's time grid (20 ms), ramped linearly to the frames: a control that
    # changed every frame would be heard as a buzz at the frame rate

    def __init__(self, config: VAEConfig):
        read = self.PITCH_POINTS + self.LOUDNESS_POINTS
        if config.latent <= read:
            raise ValueError(f"the DDSP model needs a latent of more than {read}: {read} hold the pitch and loudness")
        super().__init__(config)
        width = config.channels
        self.pitch = nn.Linear(config.latent, self.FRAMES)  # log2(f0 / 440) per frame, linear in z
        self.loudness = nn.Linear(config.latent, self.FRAMES)  # log2 RMS per frame (scaled), linear in z
        with torch.no_grad():  # both start as the contours themselves, ramped linearly from point to point
            for head, first, points in (
                (self.pitch, 0, self.PITCH_POINTS),
                (self.loudness, self.PITCH_POINTS, self.LOUDNESS_POINTS),
            ):
                head.weight.zero_()
                head.bias.zero_()
                head.weight[:, first : first + points] = _ramps(points, self.FRAMES)
        self.expand = nn.Linear(config.latent, width * self.CONTROLS)
        self.frames = nn.Sequential(Residual(width), Residual(width), nn.LeakyReLU(0.2))
        self.heads = nn.Conv1d(width, self.HARMONICS + self.BANDS, 1)
        bias = self.heads.bias
        assert bias is not None
        with torch.no_grad():  # start as the fundamental with every partial 43 dB below it and the
            # noise 52 dB below, the same in every frame (the heads' outputs are x LOGIT_SCALE nepers)
            self.heads.weight.zero_()
            bias.copy_(torch.cat([torch.tensor([0.0]), torch.full((self.HARMONICS - 1,), -0.5),
                                  torch.full((self.BANDS,), -0.6)]))  # fmt: skip
            # A narrow posterior to start (std 0.05): the decoder tells the clips apart from the
            # first step, and the KL widens it as far as the reconstructions allow. Started at the
            # prior's width, the noise drowned the timbre dimensions and the decoder learned one
            # timbre for every clip.
            self.logvar.weight.mul_(0.01)
            self.logvar.bias.fill_(-6.0)
        noise = torch.rand(CLIP_SAMPLES, generator=torch.Generator().manual_seed(0)) * 2 - 1
        self.register_buffer("noise", noise, persistent=False)  # the same noise every decode: deterministic
        self.register_buffer("noise_window", torch.hann_window(self.NOISE_FFT), persistent=False)

    def encode(self, audio: Tensor, measured: Measured | None = None) -> tuple[Tensor, Tensor]:
        """``measured``: the clips' `measure`, when the caller holds it already (training does)."""
        mean, logvar = self.latent(self.encoder(self.spectrogram(audio)))
        f0, voiced, loudness = (measured if measured is not None else self.measure(audio))[:3]
        read = torch.cat([self.contour(f0, voiced), self.envelope(loudness)], dim=1)
        return torch.cat([read, mean[:, read.shape[1] :]], dim=1), logvar

    def measure(self, audio: Tensor) -> Measured:
        """What the latent reads and the decoder is supervised by, per frame: YIN's f0 and voicing
        (`features.yin`), the loudness (`frame_loudness`) and the levels of the harmonics and the
        noise bands (`analyse`)."""
        from generation.audio.features import yin

        with torch.no_grad():
            f0, voiced = yin(audio.detach(), hop=self.FRAME)
            return f0, voiced.float(), self.frame_loudness(audio), *self.analyse(audio.detach(), f0)

    def analyse(self, audio: Tensor, f0: Tensor) -> tuple[Tensor, Tensor]:
        """The amplitude each oscillator and each noise band would need to play the clip, per
        frame, read from its spectrum (1024-point Hann STFT, one column per frame): harmonic k is
        the peak at k x f0 (a sine of amplitude a reads a); a band is the noise floor between
        the peaks (the 20th percentile of its bins' power, which for noise is 0.223 x the mean),
        as the standard deviation of white noise with that power."""
        window = torch.hann_window(self.ANALYSIS_FFT, device=audio.device)
        spectrum = torch.stft(audio, self.ANALYSIS_FFT, self.FRAME, window=window, return_complex=True).abs()
        spectrum = spectrum[..., : self.FRAMES]  # column f is centred on frame f's first sample
        top = self.ANALYSIS_FFT // 2
        numbers = torch.arange(1, self.HARMONICS + 1, device=audio.device, dtype=f0.dtype)
        position = numbers[None, :, None] * f0[:, None, :] * self.ANALYSIS_FFT / SAMPLE_RATE
        nearest = position.round().long()
        # the peak's height by a parabola through the log magnitudes of the nearest bin and its
        # neighbours (the nearest bin alone reads up to 1.4 dB low between bins)
        left, centre, right = (
            spectrum.gather(1, (nearest + d).clamp(0, top)).clamp_min(1e-9).log() for d in (-1, 0, 1)
        )
        curve = (left - 2 * centre + right).clamp(max=-1e-6)
        offset = (0.5 * (left - right) / curve).clamp(-1, 1)
        peaks = torch.exp(centre - 0.25 * (left - right) * offset)
        partials = peaks * (position < top) / (window.sum() / 2)
        floor = spectrum[:, :top].pow(2).unflatten(1, (self.BANDS, -1)).quantile(0.2, dim=2)
        bands = (floor / -math.log(0.8) / window.pow(2).sum()).sqrt()
        return partials, bands

    def envelope(self, loudness: Tensor) -> Tensor:
        """The loudness of each 40 ms span: the mean of its frames'."""
        return loudness.unflatten(1, (self.LOUDNESS_POINTS, -1)).mean(-1)

    def frame_loudness(self, audio: Tensor) -> Tensor:
        """Each frame's RMS as log2(rms + 1e-4) / 4 + 1 (about 0.6 at full scale, -2.3 in silence),
        measured through a 512-sample Hann window centred on the frame: a window of one frame
        would ripple with the phase of a low tone, and the decoder play that ripple as a buzz."""
        with torch.no_grad():
            window = torch.hann_window(4 * self.FRAME, periodic=False, device=audio.device)
            power = F.conv1d(audio.detach()[:, None] ** 2, (window / window.sum())[None, None], padding=2 * self.FRAME)
            centres = torch.arange(self.FRAMES, device=audio.device) * self.FRAME + self.FRAME // 2
            return torch.log2(power[:, 0, centres].clamp_min(0).sqrt() + 1e-4) / 4 + 1

    def contour(self, f0: Tensor, voiced: Tensor) -> Tensor:
        """log2(f0 / 440 Hz) of each span's voiced frames; a span without any takes the clip's
        mean, a clip without any 0."""
        pitch = torch.log2(f0.clamp(20.0, 4000.0) / self.REFERENCE) * voiced
        spans = (self.PITCH_POINTS, -1)
        counts = voiced.unflatten(1, spans).sum(-1)
        sums = pitch.unflatten(1, spans).sum(-1)
        overall = sums.sum(1, keepdim=True) / counts.sum(1, keepdim=True).clamp_min(1)
        return torch.where(counts > 0, sums / counts.clamp_min(1), overall)

    def f0(self, z: Tensor) -> Tensor:
        """Hz per frame (batch x 125), within the audible and synthesisable range."""
        return self.REFERENCE * torch.exp2(self.pitch(z).clamp(-4.0, 2.2))  # 27.5 Hz to 2 kHz

    def rms(self, z: Tensor) -> Tensor:
        """The RMS each frame should have (batch x 1 x 125), from the loudness the latent holds."""
        return (torch.exp2(4 * (self.loudness(z).clamp(-3.0, 1.5) - 1)) - 1e-4).clamp_min(0)[:, None, :]

    def decode(self, z: Tensor) -> Tensor:
        """f0 and loudness (each a linear function of z, learned from the clips' own) set the pitch
        and each frame's RMS; the timbre heads share that RMS out among harmonics and noise."""
        f0, partials, bands = self.levels(z)
        return (self._harmonic(f0, partials) + self._noise(bands / NOISE_RMS)).clamp(-1, 1)

    def levels(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Per frame: f0 (Hz, no gradient), the harmonics' amplitudes and the noise bands' (white
        noise standard deviations), together as loud as the frame's RMS."""
        hidden = self.frames(self.expand(z).view(z.shape[0], self.config.channels, self.CONTROLS))
        controls = F.interpolate(self.heads(hidden), size=self.FRAMES, mode="linear", align_corners=True)
        f0 = self.f0(z).detach()
        numbers = torch.arange(1, self.HARMONICS + 1, device=f0.device, dtype=f0.dtype)
        audible = numbers[None, :, None] * f0[:, None, :] < SAMPLE_RATE / 2  # no aliasing
        # Log amplitudes (nepers) relative to the frame's loudest level: only their ratios are heard,
        # as the sum is scaled to the frame's RMS below. No level saturates (an exp-sigmoid or a
        # softmax over 10x logits did, and the model then settled with one flat spectrum for every
        # clip), and the level they share cannot drift.
        heard = F.pad(audible, (0, 0, 0, self.BANDS), value=True)
        controls = (controls * self.LOGIT_SCALE).masked_fill(~heard, float("-inf"))
        amplitudes = torch.exp(controls - controls.amax(1, keepdim=True).detach())
        partials = amplitudes[:, : self.HARMONICS]
        bands = amplitudes[:, self.HARMONICS :]
        # Scaled together to the frame's RMS: sum a_k^2 / 2 for the sines, the bands' mean square
        # for the noise (white noise filtered band by band).
        power = partials.pow(2).sum(1, keepdim=True) / 2 + bands.pow(2).mean(1, keepdim=True)
        scale = self.rms(z).detach() / power.sqrt()
        return f0, partials * scale, bands * scale

    def _harmonic(self, f0: Tensor, weights: Tensor) -> Tensor:
        """The oscillators: harmonic k at k x f0 with amplitude weights[:, k], ramped linearly across
        each hop from one frame's value to the next's. The sines depend on f0 alone (no gradient:
        see the class), built by the Chebyshev recurrence sin((k+1)p) = 2 cos(p) sin(kp) -
        sin((k-1)p) rather than 64 calls of sin."""
        batch, hop, frames = f0.shape[0], self.FRAME, self.FRAMES
        with torch.no_grad():
            per_sample = _upsample(f0[:, None, :], CLIP_SAMPLES)[:, 0]
            phase = 2 * math.pi * torch.cumsum(per_sample.double() / SAMPLE_RATE, dim=1).remainder(1.0).float()
            sines = torch.empty(self.HARMONICS, batch, CLIP_SAMPLES, device=f0.device)
            sines[0], twice_cos = torch.sin(phase), 2 * torch.cos(phase)
            sines[1] = twice_cos * sines[0]
            for k in range(2, self.HARMONICS):
                torch.addcmul(-sines[k - 2], twice_cos, sines[k - 1], out=sines[k])
            ramp = torch.arange(hop, device=f0.device, dtype=f0.dtype) / hop
        # Across hop f the amplitude goes from frame f's to frame f + 1's (the last frame holds):
        # sum_k sin (w_f + ramp (w_f+1 - w_f)), as one product with [w_f, w_f+1 - w_f].
        step = torch.cat([weights[:, :, 1:], weights[:, :, -1:]], dim=2) - weights
        ends = torch.stack([weights, step], dim=-1)  # batch x k x frames x 2
        both = torch.einsum("kbfj,bkfc->bfjc", sines.view(self.HARMONICS, batch, frames, hop), ends)
        return (both[..., 0] + both[..., 1] * ramp).reshape(batch, CLIP_SAMPLES)

    def _noise(self, bands: Tensor) -> Tensor:
        window = self.get_buffer("noise_window")
        hop = self.NOISE_FFT // 2
        spectrum = torch.stft(self.get_buffer("noise"), self.NOISE_FFT, hop, window=window, return_complex=True)
        shape = F.interpolate(bands, size=spectrum.shape[-1], mode="linear", align_corners=True)  # frames
        shape = F.interpolate(shape.transpose(1, 2), size=spectrum.shape[0], mode="linear", align_corners=True)
        filtered = spectrum[None] * shape.transpose(1, 2)
        return torch.istft(filtered, self.NOISE_FFT, hop, window=window, length=CLIP_SAMPLES)

    def control_loss(self, z: Tensor, measured: Measured) -> Tensor:
        """What the latent says against the clips' own (`measure`): the mean |log2 f0 error|
        (octaves) over their voiced frames, plus the mean loudness error of every frame (1 = 4
        octaves of RMS), plus TIMBRE_WEIGHT x the levels' error (`_timbre_error`)."""
        f0, voiced, loudness = measured[:3]
        pitch = (self.pitch(z) - torch.log2(f0.clamp_min(1.0) / self.REFERENCE)).abs()
        pitch = (pitch * voiced).sum() / voiced.sum().clamp_min(1.0)
        return pitch + (self.loudness(z) - loudness).abs().mean() + self.TIMBRE_WEIGHT * self._timbre_error(z, measured)

    def _timbre_error(self, z: Tensor, measured: Measured) -> Tensor:
        """The mean |ln error| of the levels against the clip's (`analyse`), each level floored at
        TIMBRE_FLOOR x the frame's RMS: the harmonics on voiced frames, the bands on all. A direct
        target for every level from the first step, which the spectral loss alone does not give:
        through the synthesiser it has flat plateaus where a model can settle with one timbre for
        every clip."""
        _, voiced, loudness, partials, bands = measured
        _, predicted_partials, predicted_bands = self.levels(z)
        floor = self.TIMBRE_FLOOR * torch.exp2(4 * (loudness - 1))[:, None, :]

        def error(a: Tensor, b: Tensor) -> Tensor:
            # a level the clip lacks costs only as far as it is heard above the floor
            target = torch.log(torch.maximum(b, floor))
            predicted = torch.log(a.clamp_min(1e-30))
            return torch.where(b > floor, (predicted - target).abs(), F.relu(predicted - target))

        harmonic = (error(predicted_partials, partials) * voiced[:, None]).sum() / (
            voiced.sum().clamp_min(1.0) * self.HARMONICS
        )
        return harmonic + error(predicted_bands, bands).mean()


def _ramps(points: int, frames: int) -> Tensor:
    """(frames x points): each frame's value as the linear interpolation of the points, which sit
    at the centres of equal spans (the frames before the first and after the last hold them)."""
    if points == 1:
        return torch.ones(frames, 1)
    position = ((torch.arange(frames) + 0.5) * points / frames - 0.5).clamp(0, points - 1)
    left = position.floor().long().clamp(max=points - 2)
    weights = torch.zeros(frames, points)
    right_share = position - left
    weights[torch.arange(frames), left] = 1 - right_share
    weights[torch.arange(frames), left + 1] = right_share
    return weights


def _upsample(frames: Tensor, length: int) -> Tensor:
    """Linear interpolation of frame values (batch x channels x frames) to ``length`` samples."""
    return F.interpolate(frames, size=length, mode="linear", align_corners=False)


def vae_build(config: VAEConfig) -> VAE:
    if config.kind not in KINDS:
        raise ValueError(f"unknown model {config.kind!r}; choose one of {', '.join(KINDS)}")
    return {"baseline": BaselineVAE, "spectral": SpectralVAE, "ddsp": DDSPVAE}[config.kind](config)


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
