"""The simulated subject: 128-channel EEG with class-dependent visual evoked responses.

The subject watches the paper's protocol (40 classes x 50 images, 0.5 s each, back to back, in
25 s blocks separated by 10 s breaks) and its EEG is the sum of

- background activity: spatially smooth 1/f noise from a few dozen latent sources, a posterior
  alpha rhythm whose amplitude wanders slowly, slow electrode drift, line noise, sensor noise and
  eye blinks on the frontal channels;
- a visual evoked response to every image, mostly over occipito-parietal channels 50-450 ms after
  onset: a class-independent ERP (P1, N1, P2), plus beta/gamma bursts (15-40 Hz, inside the
  pipeline's 14-70 Hz band) and slow waves (removed by that band) whose amplitudes are a fixed
  linear function of the image's latent feature vector (see :mod:`rtdecode.sim.stimuli`),
  with trial-to-trial amplitude and latency jitter.

Everything is produced by :class:`SignalGenerator`, a chunked generator whose filters and random
streams carry their state, so that any chunking yields the same samples; an offline session is
that generator run over the whole schedule (:func:`simulate_session`), and a live LSL outlet can
run it chunk by chunk and :meth:`SignalGenerator.present` images when an external presenter says.

The simulator knows its ground truth: latent vectors, prototypes, noise-free class-mean responses,
and an oracle classifier (:meth:`SimulatedSubject.oracle_predict`) to report next to real models.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy import signal

from rtdecode.config import PipelineConfig
from rtdecode.io.markers import BLOCK_END, BLOCK_START, block_marker, stimulus_marker
from rtdecode.io.recording import Marker, Recording
from rtdecode.signal.filters import SegmentedFilter, design_filter_bank
from rtdecode.sim.montage import CHANNELS_128, Montage, standard_montage
from rtdecode.sim.stimuli import (
    CLASS_SCALE,
    LATENT_DIM,
    SUPER_SCALE,
    ImageRenderer,
    class_names_for,
    make_latent_space,
    super_categories_for,
    write_image_folder,
)

logger = logging.getLogger(__name__)

# Default evoked-to-background ratio (see SimulationConfig.snr); calibrated with
# benchmarks/simulator_difficulty.py so that logistic regression on a full 40 x 50 session is
# hard but clearly above chance.
DEFAULT_SNR = 0.35

# Background amplitudes in microvolts.
PINK_UV = 10.0
N_PINK_SOURCES = 40
PINK_WIDTH_RAD = 0.5
ALPHA_UV = 12.0
N_ALPHA_SOURCES = 3
ALPHA_LOG_AMPLITUDE_SD = 0.5
ALPHA_ENVELOPE_HZ = 0.1
DRIFT_UV = 15.0
N_DRIFT_SOURCES = 6
DRIFT_CORNER_HZ = 0.02
LINE_UV = (1.0, 6.0)
LINE_OFFSET_HZ = 0.05
SENSOR_UV = 1.5
BLINK_INTERVAL_S = (3.0, 6.0)
BLINK_UV = (100.0, 200.0)

# Evoked response structure.
RESPONSE_S = 0.6
N_BURSTS = 16
BURST_HZ = (15.0, 40.0)
N_SLOW_WAVES = 4
# Induced gamma: class-dependent burst power whose phase is random on every trial, so it
# survives in spectrograms but averages out of time-locked waveforms (as induced visual gamma
# does in real EEG). Its amplitude is a linear function of the latent, like the evoked part.
N_INDUCED = 8
INDUCED_HZ = (30.0, 68.0)
INDUCED_RELATIVE = 3.0  # induced amplitude per latent unit, relative to the evoked class gain
# Class-independent ERP peaks at the default snr, in uV (P1, N1, P2), and a small 40 Hz
# phase-locked burst; all scale with snr.
ERP_PEAKS_UV = (4.0, -5.0, 3.0, 1.0)
TRIAL_AMPLITUDE_SD = 0.2
TRIAL_COMPONENT_SD = 0.15
TRIAL_LATENCY_SD_S = 0.004

# Where the class-dependent signal lives (SimulationConfig.class_information).
CLASS_INFORMATION = ("mixed", "evoked_low", "induced_gamma")

# Paul Kellet's economy pink filter: 1/f within about 3 % from 1e-3 to 0.5 of the sampling rate.
_PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
_PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])

# Seed-sequence tags: one random stream per purpose, independent of call order and chunking.
_TAG_BASIS = 201
_TAG_SUBJECT_BASIS = 202
_TAG_SPATIAL = 203
_TAG_BACKGROUND = 204
_TAG_ORDER = 205
_TAG_TRIAL = 206
_TAG_INDUCED = 207
_TAG_INDUCED_SPATIAL = 208


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that defines a simulated session; identical configs give identical data.

    Attributes
    ----------
    n_channels : int
        Number of EEG channels: 128 uses all of :data:`~rtdecode.sim.montage.CHANNELS_128`;
        fewer keeps an evenly spread subset of them.
    sfreq : float
        Sampling rate in Hz.
    n_classes : int
        Number of classes; the first ``n_classes`` ImageNet-EEG names are used.
    images_per_class : int
        Distinct images per class, each shown once.
    image_s, block_s, break_s : float
        Image duration (images follow each other without gap), block duration and the break
        after each block, in seconds. A block holds ``round(block_s / image_s)`` images.
    lead_in_s : float
        Rest before the first block, so that causal filters settle before the first epoch.
    snr : float
        Evoked response scale: the RMS of the class-dependent part of a single-trial response
        over occipito-parietal channels, 50-450 ms after onset, after the default causal notch
        and 14-70 Hz band-pass, divided by the RMS of the background there after that filter
        (in expectation over class prototypes; a given set of classes lands within ~15 %).
        The class-independent ERP scales with it too. 0 turns evoked responses off.
        The background RMS is computed exactly for each subject
        (:meth:`SimulatedSubject.background_band_rms`), so ``snr`` means the same for all.
    line_freq : float
        Mains frequency (50 or 60 Hz).
    class_information : {"mixed", "evoked_low", "induced_gamma"}
        Where the class-dependent signal lives. ``"mixed"`` (default): phase-locked beta/gamma
        bursts, slow waves and induced gamma together. ``"evoked_low"``: only the phase-locked
        slow waves (below ~14 Hz, like the P1/N170 of real ERP studies), rescaled to carry the
        mixed response's total class-dependent energy. ``"induced_gamma"``: only the random-phase
        gamma bursts (30-68 Hz power, nothing time-locked). ``snr`` sets the scale of the mixed
        response in every case; the class-independent ERP is always there.
    seed : int
        Seeds the classes, images and the structure of the evoked response.
    subject : int
        Seeds what differs between people: spatial patterns, latencies, background, image order.
    minutes : float or None
        Truncate the session to the whole blocks that fit in this many minutes (at least one).
    image_size : int
        Height and width of the stimulus images in pixels.
    """

    n_channels: int = 128
    sfreq: float = 1000.0
    n_classes: int = 40
    images_per_class: int = 50
    image_s: float = 0.5
    block_s: float = 25.0
    break_s: float = 10.0
    lead_in_s: float = 2.0
    snr: float = DEFAULT_SNR
    line_freq: float = 50.0
    class_information: str = "mixed"
    seed: int = 0
    subject: int = 1
    minutes: float | None = None
    image_size: int = 64

    def __post_init__(self) -> None:
        if not 1 <= self.n_channels <= len(CHANNELS_128):
            raise ValueError(f"n_channels must be 1-{len(CHANNELS_128)}, got {self.n_channels}")
        if self.sfreq < 200:
            raise ValueError(f"sfreq must be at least 200 Hz for the gamma band, got {self.sfreq}")
        if not 0 < self.line_freq < self.sfreq / 2:
            raise ValueError(f"line_freq must be below Nyquist ({self.sfreq / 2} Hz), got {self.line_freq}")
        if self.n_classes < 1 or self.images_per_class < 1:
            raise ValueError(
                f"n_classes and images_per_class must be at least 1, "
                f"got {self.n_classes} and {self.images_per_class}"
            )
        if self.image_s <= 0 or self.block_s < self.image_s or self.break_s < 0 or self.lead_in_s < 0:
            raise ValueError(
                f"need image_s > 0, block_s >= image_s, break_s >= 0 and lead_in_s >= 0; got "
                f"image_s={self.image_s}, block_s={self.block_s}, break_s={self.break_s}, "
                f"lead_in_s={self.lead_in_s}"
            )
        if self.snr < 0:
            raise ValueError(f"snr must be >= 0, got {self.snr}")
        if self.class_information not in CLASS_INFORMATION:
            raise ValueError(
                f"class_information must be one of {CLASS_INFORMATION}, got {self.class_information!r}"
            )
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"minutes must be positive or None, got {self.minutes}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the config (JSON compatible)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimulationConfig:
        """Build a config from :meth:`to_dict` output; unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown simulator keys {sorted(unknown)}; known keys are {sorted(known)}")
        return cls(**data)


class ScheduledEvent(NamedTuple):
    """One marker of the protocol.

    Attributes
    ----------
    onset_s : float
        Time from the start of the session, in seconds (``sample / sfreq``).
    marker : str
        Marker text (JSON, see :mod:`rtdecode.io.markers`).
    sample : int
        Sample index of the event from the start of the session.
    image : int or None
        Index of the image (into :attr:`SimulatedSubject.image_ids`) for stimulus events.
    """

    onset_s: float
    marker: str
    sample: int
    image: int | None = None


@dataclass(frozen=True)
class _EvokedModel:
    """Spatio-temporal basis of the evoked response.

    ``response = waveforms @ (coefficients[:, None] * patterns)``; the first ``n_class``
    coefficients are ``gain * mixing @ latent``, then the class-independent ERP, then
    ``n_induced`` (cosine, sine) pairs of induced gamma bursts. The induced pairs have zero mean
    (their phase is random per trial, see :meth:`induced_amplitudes`).
    """

    waveforms: np.ndarray  # (n_response_samples, n_components)
    patterns: np.ndarray  # (n_components, n_channels)
    mixing: np.ndarray  # (n_class_components, latent_dim)
    gain: float
    erp_coefficients: np.ndarray  # (n_erp_components,)
    induced_mixing: np.ndarray  # (n_induced, latent_dim)

    @property
    def n_samples(self) -> int:
        return int(self.waveforms.shape[0])

    @property
    def n_induced(self) -> int:
        return int(self.induced_mixing.shape[0])

    def coefficients(self, latent: np.ndarray) -> np.ndarray:
        """Mean (phase-locked) component amplitudes of one image, shape ``(n_components,)``."""
        return np.concatenate(
            [self.gain * (self.mixing @ latent), self.erp_coefficients, np.zeros(2 * self.n_induced)]
        )

    def induced_amplitudes(self, latent: np.ndarray) -> np.ndarray:
        """Amplitude of each induced gamma burst for one image, shape ``(n_induced,)``."""
        return INDUCED_RELATIVE * self.gain * (self.induced_mixing @ latent)

    def response(self, coefficients: np.ndarray) -> np.ndarray:
        """Response for given component amplitudes, shape ``(n_samples, n_channels)``."""
        return self.waveforms @ (coefficients[:, None] * self.patterns)


class SimulatedSubject:
    """A deterministic virtual participant of the ImageNet-EEG protocol.

    Parameters
    ----------
    config : SimulationConfig, optional
        Defaults to the paper's full protocol.

    Attributes
    ----------
    config : SimulationConfig
    montage : Montage
        Channel labels and unit-sphere positions.
    channel_names : list of str
    class_names : list of str
        ``n_classes`` names, label order.
    super_categories : list of str
        Super-category of each class.
    latents : LatentSpace
        Prototypes ``(n_classes, latent_dim)`` and image latents ``(n_images, latent_dim)``.
    """

    def __init__(self, config: SimulationConfig | None = None) -> None:
        self.config = config if config is not None else SimulationConfig()
        cfg = self.config
        self.montage = _select_montage(cfg.n_channels)
        self.channel_names = list(self.montage.names)
        self.class_names = class_names_for(cfg.n_classes)
        self.super_categories = super_categories_for(cfg.n_classes)
        self.latents = make_latent_space(cfg.seed, cfg.n_classes, cfg.images_per_class)
        self._image_lookup = {name: i for i, name in enumerate(self.latents.image_ids)}
        self._renderer = ImageRenderer(cfg.seed, cfg.image_size)
        self._background = _build_background_model(cfg, self.montage)
        self._evoked = _build_evoked_model(cfg, self.montage, self.background_band_rms())

    # Ground truth -----------------------------------------------------------------------------

    @property
    def sfreq(self) -> float:
        return self.config.sfreq

    @property
    def n_channels(self) -> int:
        return self.montage.n_channels

    @property
    def image_ids(self) -> tuple[str, ...]:
        """Identifiers of all images, class-major (``img_<label>_<k>``)."""
        return self.latents.image_ids

    @property
    def image_labels(self) -> np.ndarray:
        """Class index of every image, shape ``(n_images,)``."""
        return self.latents.image_labels

    @property
    def prototypes(self) -> np.ndarray:
        """Class prototypes in latent space, shape ``(n_classes, latent_dim)``."""
        return self.latents.prototypes

    @property
    def image_latents(self) -> np.ndarray:
        """Latent vector of every image, shape ``(n_images, latent_dim)``."""
        return self.latents.image_latents

    def image_index(self, image: int | str) -> int:
        """Index of an image given its index or its identifier."""
        if isinstance(image, (int, np.integer)):
            if not 0 <= int(image) < len(self.image_ids):
                raise ValueError(f"image index {image} is outside 0-{len(self.image_ids) - 1}")
            return int(image)
        try:
            return self._image_lookup[str(image)]
        except KeyError:
            raise ValueError(f"unknown image {image!r}; ids look like {self.image_ids[0]!r}") from None

    def background_band_rms(self) -> float:
        """Background RMS in the pipeline band over occipito-parietal channels, in uV.

        Computed from the background's transfer functions after the default pipeline filter
        (notch and 14-70 Hz band-pass); this is the unit of ``SimulationConfig.snr``.
        """
        covariance = self._background.band_covariance(design_filter_bank(PipelineConfig(sfreq=self.sfreq)))
        channels = _snr_channels(self.montage)
        return float(np.sqrt(np.mean(np.diag(covariance)[channels])))

    def evoked_response(self, image: int | str) -> np.ndarray:
        """Noise-free evoked response to one image, from onset on.

        Returns
        -------
        np.ndarray, shape (n_response_samples, n_channels), float64
            Microvolts; ``n_response_samples`` is ``RESPONSE_S * sfreq``.
        """
        latent = self.image_latents[self.image_index(image)]
        return self._evoked.response(self._evoked.coefficients(latent))

    def class_mean_responses(self) -> np.ndarray:
        """Noise-free mean response of each class over its images.

        Returns
        -------
        np.ndarray, shape (n_classes, n_response_samples, n_channels)
        """
        out = np.empty((self.config.n_classes, self._evoked.n_samples, self.n_channels))
        for c in range(self.config.n_classes):
            latent = self.image_latents[self.image_labels == c].mean(axis=0)
            out[c] = self._evoked.response(self._evoked.coefficients(latent))
        return out

    # Protocol ---------------------------------------------------------------------------------

    def image_order(self) -> np.ndarray:
        """Presentation order of the images (indices), shuffled per seed and subject."""
        rng = _rng(self.config.seed, _TAG_ORDER, self.config.subject)
        return rng.permutation(len(self.image_ids))

    def schedule(self) -> list[ScheduledEvent]:
        """All markers of the session in time order (block boundaries and image onsets).

        Blocks are numbered from 0. ``block_start`` shares its sample with the block's first
        onset and comes before it; ``block_end`` marks the end of the last image.
        """
        cfg = self.config
        image_samples = _samples(cfg.image_s, cfg.sfreq)
        per_block = max(1, int(round(cfg.block_s / cfg.image_s)))
        order = self.image_order()
        n_blocks = self._n_blocks(len(order), per_block)
        events: list[ScheduledEvent] = []
        sample = _samples(cfg.lead_in_s, cfg.sfreq)
        for block in range(n_blocks):
            events.append(self._event(sample, block_marker(BLOCK_START, block)))
            for image in order[block * per_block : (block + 1) * per_block]:
                label = int(self.image_labels[image])
                text = stimulus_marker(self.image_ids[image], label, self.class_names[label], block)
                events.append(self._event(sample, text, int(image)))
                sample += image_samples
            events.append(self._event(sample, block_marker(BLOCK_END, block)))
            sample += _samples(cfg.break_s, cfg.sfreq)
        return events

    def session_samples(self) -> int:
        """Length of the scheduled session in samples (ends after the last break)."""
        events = self.schedule()
        return events[-1].sample + _samples(self.config.break_s, self.config.sfreq)

    def _n_blocks(self, n_images: int, per_block: int) -> int:
        cfg = self.config
        total = math.ceil(n_images / per_block)
        if cfg.minutes is None:
            return total
        fitting = math.floor((cfg.minutes * 60 - cfg.lead_in_s) / (cfg.block_s + cfg.break_s) + 1e-9)
        return max(1, min(total, fitting))

    def _event(self, sample: int, text: str, image: int | None = None) -> ScheduledEvent:
        return ScheduledEvent(sample / self.config.sfreq, text, sample, image)

    # Signal -----------------------------------------------------------------------------------

    def generator(self) -> SignalGenerator:
        """A fresh generator at sample 0 with no stimulus presented."""
        return SignalGenerator(self)

    def stream(self, chunk_samples: int) -> Iterator[np.ndarray]:
        """The whole scheduled session, chunk by chunk.

        Yields
        ------
        np.ndarray, shape (chunk_samples, n_channels), float32
            The last chunk may be shorter.
        """
        if chunk_samples < 1:
            raise ValueError(f"chunk_samples must be positive, got {chunk_samples}")
        generator = self.generator()
        for event in self.schedule():
            if event.image is not None:
                generator.present(event.image, event.sample)
        total = self.session_samples()
        while generator.sample_index < total:
            yield generator.next_chunk(min(chunk_samples, total - generator.sample_index))

    # Oracle -----------------------------------------------------------------------------------

    def class_templates(
        self,
        n_samples: int,
        tmin_s: float = 0.020,
        sos: np.ndarray | None = None,
        channel_scale: np.ndarray | None = None,
    ) -> np.ndarray:
        """Noise-free class-mean responses as they appear in filtered epochs.

        Parameters
        ----------
        n_samples : int
            Epoch length in samples.
        tmin_s : float
            Epoch start relative to onset, in seconds (>= 0).
        sos : np.ndarray, shape (n_sections, 6), optional
            Causal filter applied to the data; default: the default :class:`PipelineConfig`
            notch and band-pass. Pass an empty ``(0, 6)`` array for unfiltered data.
        channel_scale : np.ndarray, shape (n_channels,), optional
            Per-channel divisor applied to the data (the standard deviations of a channel-wise
            standardization); the templates are divided by it too.

        Returns
        -------
        np.ndarray, shape (n_classes, n_samples, n_channels)
        """
        start = _samples(tmin_s, self.sfreq)
        if start < 0:
            raise ValueError(f"tmin_s must be >= 0 for the oracle, got {tmin_s}")
        if sos is None:
            sos = design_filter_bank(PipelineConfig(sfreq=self.sfreq))
        responses = self.class_mean_responses()
        length = max(responses.shape[1], start + n_samples)
        padded = np.zeros((responses.shape[0], length, responses.shape[2]))
        padded[:, : responses.shape[1]] = responses
        # The response starts from silence at onset, so a zero initial state is exact.
        filtered = signal.sosfilt(sos, padded, axis=1) if len(sos) else padded
        templates = filtered[:, start : start + n_samples]
        if channel_scale is not None:
            templates = templates / np.asarray(channel_scale, dtype=float)
        return templates

    def oracle_scores(
        self,
        epochs: np.ndarray,
        tmin_s: float = 0.020,
        sos: np.ndarray | None = None,
        channel_scale: np.ndarray | None = None,
    ) -> np.ndarray:
        """Classify epochs by the nearest true noise-free class-mean response.

        What the oracle knows: the exact class-mean evoked responses (averaged over the class's
        images) and the exact spatial covariance of the stationary background, both passed
        through the same causal filter and cut at the same window as the epochs. What it
        assumes: the epochs are that filter applied to the continuous recording from its start,
        cut ``tmin_s`` after the true onsets, optionally divided per channel by
        ``channel_scale`` (a mean subtraction does not matter); the noise is Gaussian and
        white in time. It then picks the nearest template after spatial whitening. It ignores
        the temporal correlation of the background, blinks, trial jitter and image-specific
        variation, so it is a strong reference, not an upper bound.

        Parameters
        ----------
        epochs : np.ndarray, shape (n_epochs, n_samples, n_channels)
            Filtered epochs in microvolts (or standardized, see ``channel_scale``).
        tmin_s : float
            Start of the epochs after onset, in seconds.
        sos : np.ndarray, shape (n_sections, 6), optional
            The causal filter the data went through (default: the default pipeline filter).
        channel_scale : np.ndarray, shape (n_channels,), optional
            Per-channel divisor of a standardization applied to the data.

        Returns
        -------
        np.ndarray, shape (n_epochs, n_classes)
            Log-likelihood scores (up to a constant) of every class; the oracle's ranking.
        """
        epochs = np.asarray(epochs, dtype=float)
        if epochs.ndim != 3 or epochs.shape[2] != self.n_channels:
            raise ValueError(f"epochs must be (n_epochs, n_samples, {self.n_channels}), got {epochs.shape}")
        if sos is None:
            sos = design_filter_bank(PipelineConfig(sfreq=self.sfreq))
        templates = self.class_templates(epochs.shape[1], tmin_s, sos, channel_scale)
        covariance = self._background.band_covariance(sos)
        if channel_scale is not None:
            scale = np.asarray(channel_scale, dtype=float)
            covariance = covariance / np.outer(scale, scale)
        # Spatial whitening turns the correlated background into (spatially) white noise, for
        # which the nearest template in Euclidean distance is the maximum-likelihood class.
        cholesky = np.linalg.cholesky(covariance)
        whiten = np.linalg.inv(cholesky).T
        flat_t = (templates @ whiten).reshape(len(templates), -1)
        flat_e = (epochs @ whiten).reshape(len(epochs), -1)
        return flat_e @ flat_t.T - 0.5 * np.sum(flat_t**2, axis=1)

    def oracle_predict(
        self,
        epochs: np.ndarray,
        tmin_s: float = 0.020,
        sos: np.ndarray | None = None,
        channel_scale: np.ndarray | None = None,
    ) -> np.ndarray:
        """The oracle's class for each epoch, shape ``(n_epochs,)`` (see :meth:`oracle_scores`)."""
        return np.argmax(self.oracle_scores(epochs, tmin_s, sos, channel_scale), axis=1)

    def oracle_accuracy(
        self,
        epochs: np.ndarray,
        image_ids: list[str] | np.ndarray,
        tmin_s: float = 0.020,
        sos: np.ndarray | None = None,
        channel_scale: np.ndarray | None = None,
    ) -> float:
        """Top-1 accuracy of :meth:`oracle_predict` against the true labels of ``image_ids``.

        ``image_ids`` (one per epoch, identifiers or indices) only supply the true labels.
        """
        labels = np.array([self.image_labels[self.image_index(i)] for i in image_ids])
        if len(labels) != len(epochs):
            raise ValueError(f"{len(labels)} image ids for {len(epochs)} epochs")
        predicted = self.oracle_predict(epochs, tmin_s, sos, channel_scale)
        return float(np.mean(predicted == labels))

    # Images -----------------------------------------------------------------------------------

    def render_image(self, image: int | str) -> np.ndarray:
        """The stimulus image, shape ``(image_size, image_size, 3)``, uint8."""
        return self._renderer.render(self.image_latents[self.image_index(image)])

    def write_images(self, folder: str | Path) -> Path:
        """Write ``folder/images/<image_id>.png`` and the index ``folder/images.tsv``.

        Returns the index path; its columns are ``image_id, label, class_name,
        super_category, file``.
        """
        return write_image_folder(
            folder, self._renderer, self.latents, self.class_names, self.super_categories
        )

    def metadata(self) -> dict[str, Any]:
        """JSON-compatible description stored in a simulated recording."""
        cfg = self.config
        return {
            "source": "simulator",
            "subject": cfg.subject,
            "seed": cfg.seed,
            "snr": cfg.snr,
            "simulator": cfg.to_dict(),
            "class_names": list(self.class_names),
            "super_categories": list(self.super_categories),
        }


class SignalGenerator:
    """Chunked EEG generator of one :class:`SimulatedSubject`, with carried state.

    Successive :meth:`next_chunk` calls continue the same signal: filter states, random streams,
    blinks and evoked responses carry over, so any split into chunks gives the same samples as
    one call. Evoked responses come from :meth:`present`, which a session calls from its
    schedule and a live simulator calls when an external presenter shows an image.

    Parameters
    ----------
    subject : SimulatedSubject
    """

    def __init__(self, subject: SimulatedSubject) -> None:
        self.subject = subject
        self._background = subject._background.start()
        self._evoked = subject._evoked
        # Single precision is plenty for microvolt responses and several times faster.
        self._waveforms = subject._evoked.waveforms.astype(np.float32)
        self._patterns = subject._evoked.patterns.astype(np.float32)
        self._pending: list[tuple[int, np.ndarray]] = []
        self._sample = 0

    @property
    def sample_index(self) -> int:
        """Index of the next sample :meth:`next_chunk` returns."""
        return self._sample

    @property
    def sfreq(self) -> float:
        return self.subject.sfreq

    @property
    def channel_names(self) -> list[str]:
        return list(self.subject.channel_names)

    def present(self, image: int | str, at_sample: int | None = None) -> None:
        """Show an image: its evoked response starts at ``at_sample`` (default: now).

        Parameters
        ----------
        image : int or str
            Index into :attr:`SimulatedSubject.image_ids`, or the identifier itself.
        at_sample : int, optional
            Onset as a sample index from the generator's start. The trial's jitter is drawn
            from the seed, subject, image and this index, so the result does not depend on when
            or in which order images are presented. An onset in the past loses the part of the
            response that belonged to chunks already returned.
        """
        cfg = self.subject.config
        index = self.subject.image_index(image)
        at = self._sample if at_sample is None else int(at_sample)
        if at < 0:
            raise ValueError(f"at_sample must be >= 0, got {at_sample}")
        rng = _rng(cfg.seed, _TAG_TRIAL, cfg.subject, at, index)
        amplitude = math.exp(TRIAL_AMPLITUDE_SD * rng.standard_normal() - TRIAL_AMPLITUDE_SD**2 / 2)
        shift = int(round(TRIAL_LATENCY_SD_S * cfg.sfreq * rng.standard_normal()))
        coefficients = self._evoked.coefficients(self.subject.image_latents[index])
        jitter = 1.0 + TRIAL_COMPONENT_SD * rng.standard_normal(len(coefficients))
        weights = (amplitude * jitter * coefficients).astype(np.float32)
        n_induced = self._evoked.n_induced
        if n_induced:
            induced = amplitude * self._evoked.induced_amplitudes(self.subject.image_latents[index])
            phase = rng.uniform(0.0, 2 * np.pi, n_induced)
            # a cos(wt + phase) = a cos(phase) cos(wt) - a sin(phase) sin(wt)
            weights[len(weights) - 2 * n_induced :: 2] = induced * np.cos(phase)
            weights[len(weights) - 2 * n_induced + 1 :: 2] = -induced * np.sin(phase)
        self._pending.append((at + shift, weights))

    def next_chunk(self, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` samples.

        Returns
        -------
        np.ndarray, shape (n_samples, n_channels), float32
            Microvolts.
        """
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        start = self._sample
        out = self._background.next_chunk(start, n_samples)
        self._add_evoked(out, start)
        self._sample += n_samples
        return out

    def _add_evoked(self, out: np.ndarray, start: int) -> None:
        stop = start + len(out)
        length = self._evoked.n_samples
        keep = []
        for onset, coefficients in self._pending:
            lo, hi = max(onset, start), min(onset + length, stop)
            if lo < hi:
                waveforms = self._waveforms[lo - onset : hi - onset]
                out[lo - start : hi - start] += waveforms @ (coefficients[:, None] * self._patterns)
            if onset + length > stop:
                keep.append((onset, coefficients))
        self._pending = keep


# Background -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _BackgroundModel:
    """Fixed parameters of a subject's background activity (see :class:`_BackgroundState`)."""

    sfreq: float
    mixing: np.ndarray  # (n_pink + n_alpha + n_drift + n_line, n_channels), float32
    sensor_uv: np.ndarray  # (n_channels,)
    alpha_ba: tuple[np.ndarray, np.ndarray]  # resonator, one per alpha source shares poles
    alpha_gain: float  # scales the resonator output to unit variance
    envelope_ba: tuple[np.ndarray, np.ndarray]
    envelope_gain: float
    drift_ba: tuple[np.ndarray, np.ndarray]
    drift_gain: float
    pink_gain: float
    line_hz: tuple[float, ...]
    blink_topography: np.ndarray  # (n_channels,), 1 at the most frontal channel
    seeds: tuple[np.random.SeedSequence, ...]

    def start(self) -> _BackgroundState:
        return _BackgroundState(self)

    def band_covariance(self, sos: np.ndarray, n_freqs: int = 1 << 16) -> np.ndarray:
        """Spatial covariance of the background after the causal filter ``sos``, in uV^2.

        Exact for the stationary parts (1/f sources, alpha at its mean power, drift, line,
        sensor noise) from their transfer functions; blinks are left out.

        Returns
        -------
        np.ndarray, shape (n_channels, n_channels)
        """
        freqs, response = signal.sosfreqz(sos, worN=n_freqs, fs=self.sfreq)
        band = np.abs(response) ** 2

        def power(b: np.ndarray, a: np.ndarray, gain: float) -> float:
            # Variance of unit white noise through b/a and sos: mean of |H|^2 over 0..Nyquist.
            _, h = signal.freqz(b, a, worN=freqs, fs=self.sfreq)
            return float(np.mean(band * np.abs(gain * h) ** 2))

        variances = np.concatenate(
            [
                np.full(N_PINK_SOURCES, power(_PINK_B, _PINK_A, self.pink_gain)),
                np.full(N_ALPHA_SOURCES, power(*self.alpha_ba, self.alpha_gain)),
                np.full(N_DRIFT_SOURCES, power(*self.drift_ba, self.drift_gain)),
            ]
        )
        _, line = signal.sosfreqz(sos, worN=np.array(self.line_hz), fs=self.sfreq)
        # A unit cosine has variance 1/2; its sine partner shares the gain.
        variances = np.concatenate([variances, np.repeat(np.abs(line) ** 2 / 2, 2)])
        mixing = self.mixing.astype(float)
        covariance = mixing.T @ (variances[:, None] * mixing)
        covariance[np.diag_indices_from(covariance)] += self.sensor_uv**2 * float(np.mean(band))
        return covariance


class _BackgroundState:
    """Filter states and random streams of the background; produces consecutive chunks."""

    def __init__(self, model: _BackgroundModel) -> None:
        self.model = model
        names = ("pink", "alpha", "envelope", "drift", "sensor", "blink")
        self.rng = {name: np.random.default_rng(s) for name, s in zip(names, model.seeds, strict=True)}
        self.pink_zi = np.zeros((len(_PINK_A) - 1, N_PINK_SOURCES))
        self.alpha_zi = np.zeros((2, N_ALPHA_SOURCES))
        self.envelope_zi = np.zeros((len(model.envelope_ba[1]) - 1, 1))
        self.drift_zi = np.zeros((1, N_DRIFT_SOURCES))
        self.blinks: list[tuple[int, float, float]] = []  # (onset, amplitude uV, time constant)
        self.next_blink = self._blink_interval()

    def next_chunk(self, start: int, n: int) -> np.ndarray:
        sources = np.concatenate(
            [self._pink(n), self._alpha(n), self._drift(n), self._line(start, n)], axis=1
        )
        out = sources.astype(np.float32) @ self.model.mixing
        sensor = self.rng["sensor"].standard_normal((n, out.shape[1]), dtype=np.float32)
        out += sensor * self.model.sensor_uv.astype(np.float32)
        self._add_blinks(out, start)
        return out

    def _pink(self, n: int) -> np.ndarray:
        white = self.rng["pink"].standard_normal((n, N_PINK_SOURCES))
        pink, self.pink_zi = signal.lfilter(_PINK_B, _PINK_A, white, axis=0, zi=self.pink_zi)
        return pink * self.model.pink_gain

    def _alpha(self, n: int) -> np.ndarray:
        b, a = self.model.alpha_ba
        drive = self.rng["alpha"].standard_normal((n, N_ALPHA_SOURCES))
        rhythm, self.alpha_zi = signal.lfilter(b, a, drive, axis=0, zi=self.alpha_zi)
        b, a = self.model.envelope_ba
        slow = self.rng["envelope"].standard_normal((n, 1))
        log_amp, self.envelope_zi = signal.lfilter(b, a, slow, axis=0, zi=self.envelope_zi)
        # A log-normal envelope with unit mean square keeps ALPHA_UV the long-run RMS.
        sd = ALPHA_LOG_AMPLITUDE_SD
        envelope = np.exp(sd * self.model.envelope_gain * log_amp - sd**2)
        return rhythm * self.model.alpha_gain * envelope

    def _drift(self, n: int) -> np.ndarray:
        b, a = self.model.drift_ba
        steps = self.rng["drift"].standard_normal((n, N_DRIFT_SOURCES))
        drift, self.drift_zi = signal.lfilter(b, a, steps, axis=0, zi=self.drift_zi)
        return drift * self.model.drift_gain

    def _line(self, start: int, n: int) -> np.ndarray:
        # Phase from the absolute sample index: continuous across chunks by construction.
        t = (start + np.arange(n)) / self.model.sfreq
        columns = []
        for hz in self.model.line_hz:
            columns += [np.cos(2 * np.pi * hz * t), np.sin(2 * np.pi * hz * t)]
        return np.column_stack(columns)

    def _blink_interval(self) -> int:
        low, high = BLINK_INTERVAL_S
        return int(round(self.rng["blink"].uniform(low, high) * self.model.sfreq))

    def _add_blinks(self, out: np.ndarray, start: int) -> None:
        stop = start + len(out)
        while self.next_blink < stop:
            amplitude = self.rng["blink"].uniform(*BLINK_UV)
            tau = self.rng["blink"].uniform(0.04, 0.07) * self.model.sfreq
            self.blinks.append((self.next_blink, amplitude, tau))
            self.next_blink += self._blink_interval()
        keep = []
        for onset, amplitude, tau in self.blinks:
            end = onset + int(math.ceil(12 * tau))
            lo, hi = max(onset, start), min(end, stop)
            if lo < hi:
                x = (np.arange(lo, hi) - onset) / tau
                # Gamma-shaped lid movement peaking (at 1) two time constants after onset.
                shape = (x / 2) ** 2 * np.exp(2 - x)
                out[lo - start : hi - start] += np.outer(
                    amplitude * shape, self.model.blink_topography
                ).astype(np.float32)
            if end > stop:
                keep.append((onset, amplitude, tau))
        self.blinks = keep


def _build_background_model(cfg: SimulationConfig, montage: Montage) -> _BackgroundModel:
    rng = _rng(cfg.seed, _TAG_BACKGROUND, cfg.subject)
    n_ch, sfreq = montage.n_channels, cfg.sfreq

    # Pink sources spread over the upper head, each seen by nearby electrodes.
    pink_positions = _random_directions(rng, N_PINK_SOURCES, min_z=-0.2)
    pink = np.exp(-(montage.angular_distances(pink_positions).T ** 2) / (2 * PINK_WIDTH_RAD**2))
    pink /= np.sqrt(np.sum(pink**2, axis=0, keepdims=True))
    pink *= PINK_UV * rng.lognormal(0.0, 0.15, n_ch)

    alpha_positions = np.stack(
        [
            _direction(np.deg2rad(rng.uniform(55, 85)), np.deg2rad(rng.uniform(140, 220)))
            for _ in range(N_ALPHA_SOURCES)
        ]
    )
    alpha = np.exp(-(montage.angular_distances(alpha_positions).T ** 2) / (2 * 0.6**2))
    alpha *= ALPHA_UV * rng.uniform(0.6, 1.0, (N_ALPHA_SOURCES, 1)) / np.sqrt(N_ALPHA_SOURCES)

    drift = rng.standard_normal((N_DRIFT_SOURCES, n_ch)) * DRIFT_UV / np.sqrt(N_DRIFT_SOURCES)

    # Mains runs a little off nominal, so it does not stay phase-locked to the stimulus clock.
    mains = cfg.line_freq + rng.uniform(-LINE_OFFSET_HZ, LINE_OFFSET_HZ)
    line_hz = tuple(h * mains for h in (1, 3) if h * mains < sfreq / 2)
    line_rows = []
    for harmonic, _ in enumerate(line_hz):
        amplitude = rng.uniform(*LINE_UV, n_ch) * (1.0 if harmonic == 0 else 0.2)
        # Mains couples in nearly the same phase everywhere.
        phase = rng.uniform(0, 2 * np.pi) + rng.normal(0.0, 0.3, n_ch)
        line_rows += [amplitude * np.cos(phase), -amplitude * np.sin(phase)]

    alpha_hz = rng.uniform(9.0, 11.5)
    radius = 0.995
    alpha_a = np.array([1.0, -2 * radius * np.cos(2 * np.pi * alpha_hz / sfreq), radius**2])
    alpha_b = np.array([1.0])
    envelope_ba = signal.butter(2, ALPHA_ENVELOPE_HZ, fs=sfreq)
    drift_pole = math.exp(-2 * math.pi * DRIFT_CORNER_HZ / sfreq)
    drift_ba = (np.array([1.0]), np.array([1.0, -drift_pole]))

    eyes = _direction(np.deg2rad(105.0), 0.0)
    distance = montage.angular_distances(eyes[None, :])[:, 0]
    blink = np.exp(-distance / 0.45)
    blink /= blink.max()

    mixing = np.concatenate([pink, alpha, drift, np.array(line_rows)]).astype(np.float32)
    return _BackgroundModel(
        sfreq=sfreq,
        mixing=mixing,
        sensor_uv=SENSOR_UV * rng.lognormal(0.0, 0.4, n_ch),
        alpha_ba=(alpha_b, alpha_a),
        alpha_gain=1.0 / _impulse_rms(alpha_b, alpha_a),
        envelope_ba=envelope_ba,
        envelope_gain=1.0 / _impulse_rms(*envelope_ba, n=int(20 * sfreq / ALPHA_ENVELOPE_HZ)),
        drift_ba=drift_ba,
        drift_gain=1.0 / _impulse_rms(*drift_ba, n=int(20 * sfreq / DRIFT_CORNER_HZ)),
        pink_gain=1.0 / _impulse_rms(_PINK_B, _PINK_A),
        line_hz=line_hz,
        blink_topography=blink,
        seeds=tuple(np.random.SeedSequence([cfg.seed, _TAG_BACKGROUND, cfg.subject, 1]).spawn(6)),
    )


# Evoked response --------------------------------------------------------------------------------


def _build_evoked_model(cfg: SimulationConfig, montage: Montage, background_rms: float) -> _EvokedModel:
    """Waveforms and class mixing from the seed; latencies and topographies from the subject."""
    shared = _rng(cfg.seed, _TAG_BASIS)
    personal = _rng(cfg.seed, _TAG_SUBJECT_BASIS, cfg.subject)
    t = np.arange(_samples(RESPONSE_S, cfg.sfreq)) / cfg.sfreq
    latency_shift = personal.normal(0.0, 0.010)
    speed = personal.uniform(0.95, 1.05)

    columns = []
    for _ in range(N_BURSTS):
        hz, centre = shared.uniform(*BURST_HZ) * speed, shared.uniform(0.12, 0.36) + latency_shift
        width, phase = shared.uniform(0.025, 0.05), shared.uniform(0, 2 * np.pi)
        columns.append(_gaussian(t, centre, width) * np.cos(2 * np.pi * hz * (t - centre) + phase))
    for _ in range(N_SLOW_WAVES):
        centre, width = shared.uniform(0.12, 0.35) + latency_shift, shared.uniform(0.03, 0.07)
        columns.append(_gaussian(t, centre, width))
    n_class = len(columns)
    # Class-independent ERP: P1, N1, P2 and a 40 Hz phase-locked burst.
    for centre, width in ((0.10, 0.02), (0.17, 0.025), (0.25, 0.04)):
        columns.append(_gaussian(t, centre + latency_shift, width))
    columns.append(_gaussian(t, 0.09 + latency_shift, 0.02) * np.cos(2 * np.pi * 40.0 * (t - 0.09)))
    induced_rng = _rng(cfg.seed, _TAG_INDUCED)
    for _ in range(N_INDUCED):
        hz = induced_rng.uniform(*INDUCED_HZ) * speed
        centre = induced_rng.uniform(0.15, 0.35) + latency_shift
        envelope = _gaussian(t, centre, induced_rng.uniform(0.04, 0.08))
        columns += [
            envelope * np.cos(2 * np.pi * hz * (t - centre)),
            envelope * np.sin(2 * np.pi * hz * (t - centre)),
        ]
    waveforms = np.column_stack(columns)

    spatial = _rng(cfg.seed, _TAG_SPATIAL, cfg.subject)
    induced_spatial = _rng(cfg.seed, _TAG_INDUCED_SPATIAL, cfg.subject)
    induced_patterns = [
        p for _ in range(N_INDUCED) for p in [_posterior_pattern(induced_spatial, montage)] * 2
    ]
    patterns = np.stack(
        [_posterior_pattern(spatial, montage) for _ in range(n_class)]
        + _erp_patterns(spatial, montage)
        + induced_patterns
    )
    mixing = shared.standard_normal((n_class, LATENT_DIM)) / np.sqrt(LATENT_DIM)
    induced_mixing = induced_rng.standard_normal((N_INDUCED, LATENT_DIM)) / np.sqrt(LATENT_DIM)
    erp = np.array(ERP_PEAKS_UV) * cfg.snr / DEFAULT_SNR

    unit = _EvokedModel(waveforms, patterns, mixing, 1.0, erp, induced_mixing)
    gain = cfg.snr * background_rms / _class_band_rms(unit, n_class, cfg, montage)
    # The knob acts after every random draw and the gain, so "mixed" is the simulator as it was.
    if cfg.class_information == "evoked_low":
        low = mixing.copy()
        low[:N_BURSTS] = 0.0
        full_rms = _class_band_rms(unit, n_class, cfg, montage, filtered=False)
        low_rms = _class_band_rms(
            _EvokedModel(waveforms, patterns, low, 1.0, erp, induced_mixing),
            n_class,
            cfg,
            montage,
            filtered=False,
        )
        mixing, induced_mixing = low * (full_rms / low_rms), np.zeros_like(induced_mixing)
    elif cfg.class_information == "induced_gamma":
        mixing = np.zeros_like(mixing)
    return _EvokedModel(waveforms, patterns, mixing, gain, erp, induced_mixing)


def _class_band_rms(
    model: _EvokedModel, n_class: int, cfg: SimulationConfig, montage: Montage, filtered: bool = True
) -> float:
    """Expected in-band RMS of the class-dependent response at unit gain (unfiltered: ``filtered=False``).

    Expectation over the prototype distribution (variance SUPER_SCALE**2 + CLASS_SCALE**2 per
    latent axis), not over the realized classes, so the scale does not depend on n_classes.
    """
    waveforms = model.waveforms[:, :n_class]
    if filtered:
        waveforms = signal.sosfilt(design_filter_bank(PipelineConfig(sfreq=cfg.sfreq)), waveforms, axis=0)
    window = slice(_samples(0.05, cfg.sfreq), _samples(0.45, cfg.sfreq))
    temporal = waveforms[window].T @ waveforms[window]
    channels = _snr_channels(montage)
    spatial = model.patterns[:n_class, channels] @ model.patterns[:n_class, channels].T
    variance = SUPER_SCALE**2 + CLASS_SCALE**2
    power = variance * np.trace(model.mixing @ model.mixing.T @ (temporal * spatial))
    cells = (window.stop - window.start) * int(channels.sum())
    return float(np.sqrt(power / cells))


def _posterior_pattern(rng: np.random.Generator, montage: Montage) -> np.ndarray:
    # Two blobs of either sign behind the vertex: a dipole-like, class-specific topography.
    pattern = np.zeros(montage.n_channels)
    for sign in (1.0, rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.0)):
        centre = _direction(np.deg2rad(rng.uniform(45, 95)), np.deg2rad(rng.uniform(125, 235)))
        distance = montage.angular_distances(centre[None, :])[:, 0]
        pattern += sign * np.exp(-(distance**2) / (2 * 0.4**2))
    return pattern / np.max(np.abs(pattern))


def _erp_patterns(rng: np.random.Generator, montage: Montage) -> list[np.ndarray]:
    def blob(polar_deg: float, azimuth_deg: float, width: float = 0.45) -> np.ndarray:
        centre = _direction(
            np.deg2rad(polar_deg + rng.normal(0, 5)), np.deg2rad(azimuth_deg + rng.normal(0, 8))
        )
        return np.exp(-(montage.angular_distances(centre[None, :])[:, 0] ** 2) / (2 * width**2))

    p1 = blob(75, 180)
    n1 = blob(75, 140) + blob(75, 220)  # bilateral, over PO7/PO8
    p2 = blob(55, 180)
    gamma = blob(70, 180, 0.35)
    return [p / np.max(np.abs(p)) for p in (p1, n1, p2, gamma)]


# Sessions ---------------------------------------------------------------------------------------


def simulate_session(
    config: SimulationConfig | None = None,
    t0: float = 0.0,
    progress: bool | None = None,
    chunk_s: float = 10.0,
) -> Recording:
    """Generate a whole session offline.

    Parameters
    ----------
    config : SimulationConfig, optional
        Defaults to the paper's full protocol (about 1400 s).
    t0 : float
        LSL timestamp of the first sample; sample ``n`` is at ``t0 + n / sfreq``.
    progress : bool, optional
        Show a tqdm bar; by default only for sessions over 10 s on a terminal.
    chunk_s : float
        Generation chunk length (memory vs. overhead; the samples do not depend on it).

    Returns
    -------
    Recording
        ``data`` ``(n_samples, n_channels)`` float32 in microvolts, markers at every block
        boundary and image onset, and metadata (subject, seed, snr, simulator config, class names).
    """
    subject = SimulatedSubject(config)
    cfg = subject.config
    total = subject.session_samples()
    data = np.empty((total, subject.n_channels), dtype=np.float32)
    bar = _progress_bar(total, cfg.sfreq, progress)
    position = 0
    for chunk in subject.stream(max(1, _samples(chunk_s, cfg.sfreq))):
        data[position : position + len(chunk)] = chunk
        position += len(chunk)
        bar.update(len(chunk))
    bar.close()
    markers = [Marker(t0 + event.onset_s, event.marker) for event in subject.schedule()]
    return Recording(
        data=data,
        timestamps=t0 + np.arange(total) / cfg.sfreq,
        sfreq=cfg.sfreq,
        channel_names=subject.channel_names,
        markers=markers,
        metadata=subject.metadata(),
    )


def save_simulated_session(config: SimulationConfig, out: str | Path, overwrite: bool = False) -> Path:
    """Simulate a session and write it to disk: the XDF file and its stimulus images.

    The images go to ``<out stem>_images/`` next to the file (``images/<image_id>.png`` and
    ``images.tsv``); the recording's metadata names that folder (``image_dir``) so that
    calibration finds it. Returns the image folder.
    """
    from rtdecode.io.xdf import write_xdf

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    image_dir = out.with_name(out.stem + "_images")
    recording = simulate_session(config)
    SimulatedSubject(config).write_images(image_dir)
    recording.metadata["image_dir"] = image_dir.name
    write_xdf(out, recording, overwrite=overwrite)
    return image_dir


def subject_from_recording(recording: Recording) -> SimulatedSubject:
    """Rebuild the subject that generated a simulated recording (from its metadata)."""
    config = recording.metadata.get("simulator")
    if not isinstance(config, dict):
        raise ValueError(
            "this recording has no 'simulator' metadata; only recordings made by "
            "simulate_session (or a simulator stream) have a ground truth"
        )
    return SimulatedSubject(SimulationConfig.from_dict(config))


def oracle_accuracy(recording: Recording, pipeline: PipelineConfig | None = None) -> float:
    """Oracle top-1 accuracy on a simulated recording.

    Filters the recording with the pipeline's own causal filter bank (default
    :class:`PipelineConfig`), cuts its epoch window after every stimulus marker and applies
    :meth:`SimulatedSubject.oracle_predict`. No standardization: templates are in microvolts.
    """
    subject = subject_from_recording(recording)
    pipeline = pipeline if pipeline is not None else PipelineConfig(sfreq=recording.sfreq)
    sos = design_filter_bank(pipeline)
    stamps = recording.smoothed_timestamps
    filtered = SegmentedFilter(pipeline, recording.n_channels).process(recording.data, stamps)
    start = _samples(pipeline.epoch.tmin_s, recording.sfreq)
    length = pipeline.epoch_samples
    epochs, ids = [], []
    for timestamp, event in recording.stimulus_events():
        onset = int(np.searchsorted(stamps, timestamp - 0.5 / recording.sfreq))
        if onset + start + length <= recording.n_samples:
            epochs.append(filtered[onset + start : onset + start + length])
            ids.append(event["image"])
    if not epochs:
        raise ValueError("the recording has no complete epoch after a stimulus marker")
    return subject.oracle_accuracy(np.stack(epochs), ids, pipeline.epoch.tmin_s, sos)


# Helpers ----------------------------------------------------------------------------------------


def _snr_channels(montage: Montage) -> np.ndarray:
    # Occipito-parietal channels, or all of them for a montage without any.
    channels = montage.occipitoparietal_mask()
    return channels if channels.any() else np.ones(montage.n_channels, dtype=bool)


def _select_montage(n_channels: int) -> Montage:
    full = standard_montage(CHANNELS_128)
    if n_channels == full.n_channels:
        return full
    # Farthest-point sampling from Cz spreads any number of channels evenly over the head.
    chosen = [full.index("Cz")]
    distance = full.angular_distances(full.positions[chosen])[:, 0]
    while len(chosen) < n_channels:
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        distance = np.minimum(distance, full.angular_distances(full.positions[[nxt]])[:, 0])
    keep = sorted(chosen)
    return Montage(tuple(full.names[i] for i in keep), full.positions[keep])


def _progress_bar(total: int, sfreq: float, progress: bool | None) -> Any:
    from tqdm import tqdm

    if progress is None:
        # tqdm's disable=None turns the bar off when stderr is not a terminal.
        disable = None if total / sfreq > 10 else True
    else:
        disable = not progress
    return tqdm(total=total, unit="sample", unit_scale=True, desc="simulating", disable=disable)


def _gaussian(t: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-((t - centre) ** 2) / (2 * width**2))


def _direction(polar: float, azimuth: float) -> np.ndarray:
    return np.array([np.sin(polar) * np.sin(azimuth), np.sin(polar) * np.cos(azimuth), np.cos(polar)])


def _random_directions(rng: np.random.Generator, n: int, min_z: float) -> np.ndarray:
    points: list[np.ndarray] = []
    while len(points) < n:
        v = rng.standard_normal(3)
        v /= np.linalg.norm(v)
        if v[2] >= min_z:
            points.append(v)
    return np.stack(points)


def _impulse_rms(b: np.ndarray, a: np.ndarray, n: int = 50_000) -> float:
    impulse = np.zeros(n)
    impulse[0] = 1.0
    return float(np.sqrt(np.sum(signal.lfilter(b, a, impulse) ** 2)))


def _samples(seconds: float, sfreq: float) -> int:
    return int(round(seconds * sfreq))


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), *keys]))


__all__ = [
    "DEFAULT_SNR",
    "ScheduledEvent",
    "SignalGenerator",
    "SimulatedSubject",
    "SimulationConfig",
    "oracle_accuracy",
    "save_simulated_session",
    "simulate_session",
    "subject_from_recording",
]
