"""Slaney-style mel filters (the ones Matcha-TTS, the engine and the trainers use), in numpy alone.

They equal `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)` at its defaults (Slaney's mel
scale, Slaney's area normalisation, float32) value for value, so a trainer can run where librosa
is not installed, such as a GPU machine that cannot fetch packages.

    >>> basis = mel_filters(rate=22050, n_fft=1024, n_mels=80, fmax=8000.0)
    >>> basis.shape
    (80, 513)
"""
import numpy as np

# Slaney's scale: linear below 1 kHz (200/3 Hz a mel), logarithmic above (27 mels for a factor of 6.4).
_LINEAR_HZ_PER_MEL = 200.0 / 3
_BREAK_HZ = 1000.0
_BREAK_MEL = _BREAK_HZ / _LINEAR_HZ_PER_MEL
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz):
    """Frequencies in Hz on Slaney's mel scale."""
    hz = np.asanyarray(hz, dtype=np.float64)
    mel = hz / _LINEAR_HZ_PER_MEL
    above = hz >= _BREAK_HZ
    return np.where(above, _BREAK_MEL + np.log(np.maximum(hz, _BREAK_HZ) / _BREAK_HZ) / _LOG_STEP, mel)


def mel_to_hz(mel):
    """Slaney mels back to Hz."""
    mel = np.asanyarray(mel, dtype=np.float64)
    hz = mel * _LINEAR_HZ_PER_MEL
    above = mel >= _BREAK_MEL
    return np.where(above, _BREAK_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _BREAK_MEL) - _BREAK_MEL)), hz)


def mel_filters(rate, n_fft, n_mels, fmin=0.0, fmax=None):
    """Triangular filters `[n_mels, n_fft // 2 + 1]` (float32), each of unit area in Hz."""
    fmax = rate / 2 if fmax is None else fmax
    bin_hz = np.fft.rfftfreq(n_fft, 1.0 / rate)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = np.subtract.outer(edges, bin_hz)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    # Each filter's area is the same, whatever its width (Slaney's normalisation).
    area = 2.0 / (edges[2:] - edges[:-2])
    return (weights.astype(np.float64) * area[:, None]).astype(np.float32)
