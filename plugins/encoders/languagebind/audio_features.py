"""audio_features.py

LanguageBind's audio preprocessing (``processing_audio.py``) in plain torch, without torchaudio:
a waveform ``(channels, samples)`` and its sample rate -> a 3-channel log-mel "image"
``(3, num_mel_bins, target_length)``.

1. Resampling to ``sample_rate`` (16 kHz) when the file's rate differs: `resample`, the method of
   ``torchaudio.functional.resample`` with its defaults (``sinc_interp_hann``, ``lowpass_filter_width`` 6,
   ``rolloff`` 0.99): both rates divided by their gcd (``orig``, ``new``), cutoff ``base = min(orig, new) *
   rolloff``, output ``j`` is ``sum_i x[i] k(i / orig - j / new)`` with the Hann-windowed sinc
   ``k(t) = sinc(base t) cos^2(pi base t / 12) base / orig`` for ``|base t| <= 6`` (zero outside), the
   signal zero outside its ends, ``ceil(new * samples / orig)`` outputs; computed as a strided ``conv1d``
   with one filter per output phase, the filters in the waveform's dtype, as torchaudio does.
2. The mean of the whole (resampled) waveform, all channels, is subtracted; only channel 0 is used next
   (``kaldi.fbank``'s ``channel=-1`` selects the first channel).
3. `kaldi_fbank`: Kaldi-compatible log-mel filterbank, the arguments LanguageBind passes to
   ``torchaudio.compliance.kaldi.fbank`` (``htk_compat=True``, ``use_energy=False``, ``window_type
   hanning``, ``dither 0``, 25 ms frames every 10 ms) and its defaults otherwise: frames of
   ``int(sr * 0.025)`` samples every ``int(sr * 0.010)`` (400 / 160 at 16 kHz) that fit entirely
   (``snip_edges``), each frame minus its mean (``remove_dc_offset``), pre-emphasis ``y[j] = x[j] - 0.97
   x[max(j - 1, 0)]``, a symmetric Hann window (``torch.hann_window(periodic=False)``), zero-padded to the
   next power of two (512), power spectrum ``|rfft|^2``, triangular filters equally spaced on Kaldi's mel
   scale ``1127 ln(1 + f / 700)`` from 20 Hz to Nyquist over the FFT bins below Nyquist,
   ``log(max(energy, float32 eps))``. Result ``(frames, num_mel_bins)``. (``htk_compat`` only moves the
   energy column, which ``use_energy=False`` leaves out.) The filters are computed in float64 and stored
   as float32; torchaudio computes them in float32: the two differ by float32 rounding.
4. `waveform2melspec`'s three chunks: more frames than ``target_length``: the frame offsets
   ``0 .. frames - target_length`` are split in three with ``np.array_split`` (an empty part becomes
   ``[0]``) and one window of ``target_length`` frames starts in each part: front, middle, back stacked
   as the 3 channels. Upstream draws each start at random (``np.random.choice``) even at inference; the
   default here, ``chunks="fixed"``, takes each part's first offset (upstream's commented-out
   alternative), so features are deterministic and cacheable; ``chunks="random"`` draws as upstream.
   Fewer frames: repeated ``int(target_length / frames) + 1`` times, cut to ``target_length``, the same
   in all 3 channels; exactly ``target_length``: the same in all 3 channels.
5. Transposed to ``(3, num_mel_bins, target_length)`` and normalised as upstream:
   ``(mel - audio_mean) / (2 * audio_std)`` (note the factor 2), with LanguageBind_Audio's
   ``audio_mean = -4.2677393``, ``audio_std = 4.5689974``.

A waveform shorter than one analysis window (400 samples at 16 kHz; torchaudio asserts) raises `MediaError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from mmbind import InputError, MediaError

SAMPLE_RATE = 16000  # LanguageBind_Audio's vision_config.audio_sample_rate
AUDIO_MEAN = -4.2677393  # vision_config.audio_mean
AUDIO_STD = 4.5689974  # vision_config.audio_std
FRAME_LENGTH_MS = 25.0
FRAME_SHIFT_MS = 10.0
PREEMPHASIS = 0.97
LOW_FREQ = 20.0  # Hz, lowest mel filter edge (kaldi's default)
EPSILON = float(torch.finfo(torch.float32).eps)  # floor of the mel energies before the log

ChunkPick = Literal["fixed", "random"]


def resample(
    waveform: torch.Tensor, orig_freq: int, new_freq: int, lowpass_filter_width: int = 6,
    rolloff: float = 0.99,
) -> torch.Tensor:
    """``(..., samples)`` at ``orig_freq`` -> ``(..., ceil(samples * new / orig))`` at ``new_freq`` (see
    module: windowed-sinc interpolation, torchaudio's method and defaults)."""
    if orig_freq <= 0 or new_freq <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_freq} -> {new_freq}")
    if orig_freq == new_freq:
        return waveform
    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    kernel, width = _sinc_kernel(orig, new, lowpass_filter_width, rolloff, waveform.dtype, waveform.device)
    shape = waveform.shape
    signals = waveform.reshape(-1, shape[-1])
    padded = F.pad(signals, (width, width + orig))
    phases = F.conv1d(padded[:, None], kernel, stride=orig)  # (signals, new, steps)
    out = phases.transpose(1, 2).reshape(signals.shape[0], -1)[:, : math.ceil(new * shape[-1] / orig)]
    return out.reshape(*shape[:-1], out.shape[-1])


def _sinc_kernel(
    orig: int, new: int, lowpass_filter_width: int, rolloff: float, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, int]:
    """One filter per output phase, ``(new, 1, 2 * width + orig)``, and ``width`` (taps each side)."""
    base = min(orig, new) * rolloff
    width = math.ceil(lowpass_filter_width * orig / base)
    taps = torch.arange(-width, width + orig, dtype=dtype, device=device)[None] / orig  # input times
    phase = torch.arange(0, -new, -1, dtype=dtype, device=device)[:, None] / new  # minus output times
    t = ((phase + taps) * base).clamp(-lowpass_filter_width, lowpass_filter_width)
    window = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    t = t * math.pi
    sinc = torch.where(t == 0, torch.ones_like(t), torch.sin(t) / t)
    return (sinc * window * (base / orig))[:, None], width


def mel_banks(num_bins: int, fft_size: int, sample_rate: float, low_freq: float = LOW_FREQ) -> torch.Tensor:
    """Kaldi's triangular mel filters ``(num_bins, fft_size // 2)`` over the FFT bins below Nyquist,
    edges equally spaced on ``1127 ln(1 + f / 700)`` from ``low_freq`` to Nyquist (float32)."""
    nyquist = 0.5 * sample_rate
    if num_bins <= 3 or not 0.0 <= low_freq < nyquist:
        raise ValueError(f"need > 3 mel bins and 0 <= low_freq < {nyquist}, got {num_bins}, {low_freq}")

    def mel(freq: torch.Tensor | float) -> Any:
        return 1127.0 * (torch.log1p(torch.as_tensor(freq, dtype=torch.float64) / 700.0))

    low, high = float(mel(low_freq)), float(mel(nyquist))
    step = (high - low) / (num_bins + 1)
    edges = low + step * torch.arange(num_bins + 2, dtype=torch.float64)  # left, centre, right per bin
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    bins = mel(sample_rate / fft_size * torch.arange(fft_size // 2, dtype=torch.float64))[None]
    rising, falling = (bins - left) / (centre - left), (right - bins) / (right - centre)
    return torch.minimum(rising, falling).clamp(min=0.0).to(torch.float32)


def kaldi_fbank(signal: torch.Tensor, sample_rate: int, num_mel_bins: int) -> torch.Tensor:
    """Log-mel filterbank ``(frames, num_mel_bins)`` of a 1-D float ``signal`` as LanguageBind computes
    it with ``torchaudio.compliance.kaldi.fbank`` (see module, step 3)."""
    size = int(sample_rate * FRAME_LENGTH_MS * 0.001)
    shift = int(sample_rate * FRAME_SHIFT_MS * 0.001)
    fft_size = 1 if size == 0 else 2 ** (size - 1).bit_length()
    if len(signal) < size:
        raise MediaError(
            f"audio of {len(signal)} samples at {sample_rate} Hz is shorter than one "
            f"{FRAME_LENGTH_MS:g} ms analysis window ({size} samples)"
        )
    frames = signal.unfold(0, size, shift)  # (m, size): the frames that fit entirely
    frames = frames - frames.mean(dim=1, keepdim=True)
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = frames - PREEMPHASIS * previous
    frames = frames * torch.hann_window(size, periodic=False, dtype=frames.dtype, device=frames.device)
    power = torch.fft.rfft(frames, n=fft_size).abs().pow(2.0)  # (m, fft_size // 2 + 1)
    banks = mel_banks(num_mel_bins, fft_size, sample_rate).to(device=signal.device, dtype=power.dtype)
    energies = power[:, : fft_size // 2] @ banks.T  # the Nyquist bin has no filter weight
    return energies.clamp(min=EPSILON).log()


def chunk_starts(frames: int, target_length: int, pick: ChunkPick) -> list[int]:
    """Start frames of the front / middle / back windows when ``frames > target_length``."""
    parts = [list(p) for p in np.array_split(np.arange(frames - target_length + 1), 3)]
    parts = [p if p else [0] for p in parts]
    if pick == "random":
        return [int(np.random.choice(p)) for p in parts]
    return [int(p[0]) for p in parts]


@dataclass(frozen=True)
class AudioTransform:
    """``(waveform (channels, samples) or (samples,), sample_rate)`` -> float tensor
    ``(3, num_mel_bins, target_length)``, LanguageBind's audio preprocessing (see module)."""

    num_mel_bins: int = 112  # LanguageBind_Audio's vision_config.num_mel_bins
    target_length: int = 1036  # frames per chunk: vision_config.target_length
    sample_rate: int = SAMPLE_RATE  # the rate the filterbank is computed at
    audio_mean: float = AUDIO_MEAN  # normalisation: (mel - mean) / (2 * std)
    audio_std: float = AUDIO_STD
    chunks: ChunkPick = "fixed"  # start of each long-audio chunk: first of its range, or random (upstream)

    def __call__(self, item: tuple[Any, int]) -> torch.Tensor:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            kind = type(item).__name__
            raise InputError(f"audio transform: expected (waveform, sample_rate), got {kind}")
        waveform, rate = item
        if torch.is_tensor(waveform):
            wave = waveform.detach().to(torch.float32)
        else:
            wave = torch.as_tensor(np.asarray(waveform, dtype=np.float32))
        if wave.ndim == 1:
            wave = wave[None]
        if wave.ndim != 2 or wave.shape[0] == 0:
            shape = tuple(wave.shape)
            raise InputError(f"audio transform: expected a (channels, samples) waveform, got {shape}")
        wave = resample(wave, int(rate), self.sample_rate)
        wave = wave - wave.mean()
        mel = kaldi_fbank(wave[0], self.sample_rate, self.num_mel_bins)  # (frames, mel bins)
        frames = mel.shape[0]
        if frames > self.target_length:
            starts = chunk_starts(frames, self.target_length, self.chunks)
            stacked = torch.stack([mel[s : s + self.target_length] for s in starts])
        else:
            if frames < self.target_length:
                repeats = int(self.target_length / frames) + 1
                mel = mel.repeat(repeats, 1)[: self.target_length]
            stacked = torch.stack([mel, mel, mel])
        stacked = stacked.transpose(1, 2)  # (3, mel bins, target_length)
        return ((stacked - self.audio_mean) / (self.audio_std * 2)).contiguous()
