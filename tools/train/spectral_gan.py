"""A multi-resolution spectrogram discriminator (UnivNet's MRD, arXiv 2106.07889) and the
least-squares adversarial and feature-matching losses of HiFi-GAN (arXiv 2010.05646), for an
adversarial fine-tune of a vocoder trained on spectral losses.

Spectral L1 losses average: a vocoder trained on them alone makes envelopes a little too smooth
and noise a little too even, what DNSMOS and listeners hear as synthetic. A discriminator that
judges magnitude spectrograms (not waveforms) pushes the spectral detail towards the recordings'
without asking the vocoder's harmonics for any particular phase, which suits a vocoder whose
phases are set at run time (the harmonic vocoder spreads them there). The discriminator is small
(a few 2-D convolutions per resolution) so that a fine-tune runs on CPU cores.
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

# (n_fft, hop, window) at 22 050 Hz: fine time, middle and fine frequency, as UnivNet's.
MRD_RESOLUTIONS = [(512, 64, 256), (1024, 128, 512), (2048, 256, 1024)]


class SpectrogramDiscriminator(nn.Module):
    """Scores a linear-magnitude spectrogram patch by patch; also returns each layer's features."""

    def __init__(self, n_fft, hop, window, channels):
        super().__init__()
        self.n_fft, self.hop, self.window_length = n_fft, hop, window
        self.register_buffer("window", torch.hann_window(window))
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv2d(1, channels, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, (3, 9), stride=(1, 2), padding=(1, 4))),
            weight_norm(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1))),
        ])
        self.out = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, audio):  # [B, S] -> (scores [B, ...], [features])
        spec = torch.stft(audio, self.n_fft, self.hop, self.window_length, self.window,
                          center=True, return_complex=True)
        x = torch.sqrt(spec.real ** 2 + spec.imag ** 2 + 1e-9).transpose(1, 2).unsqueeze(1)  # [B, 1, T, F]
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            features.append(x)
        x = self.out(x)
        features.append(x)
        return x.flatten(1), features


class MultiResolutionDiscriminator(nn.Module):
    def __init__(self, channels=8, resolutions=MRD_RESOLUTIONS):
        super().__init__()
        self.discriminators = nn.ModuleList(SpectrogramDiscriminator(*r, channels) for r in resolutions)

    def forward(self, audio):
        """[(scores, features)] per resolution."""
        return [d(audio) for d in self.discriminators]


def discriminator_loss(real, fake):
    """Least squares: real towards 1, generated towards 0 (HiFi-GAN)."""
    return sum(torch.mean((r - 1) ** 2) + torch.mean(f ** 2) for (r, _), (f, _) in zip(real, fake))


def generator_losses(real, fake):
    """(adversarial, feature matching): generated scores towards 1, and each discriminator layer's
    features of the generated audio towards those of the recording (L1, recording detached)."""
    adversarial = sum(torch.mean((f - 1) ** 2) for f, _ in fake)
    matching = sum(F.l1_loss(ff, rf.detach())
                   for (_, real_features), (_, fake_features) in zip(real, fake)
                   for rf, ff in zip(real_features, fake_features))
    return adversarial, matching
