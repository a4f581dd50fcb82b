"""The simulated subject: a deterministic participant of the ImageNet-EEG protocol.

The subject watches the paper's protocol (40 classes x 50 images, 0.5 s each, back to back, in
25 s blocks separated by 10 s breaks) and its EEG is background activity
(:mod:`rtdecode.sim.background`) plus a visual evoked response to every image
(:mod:`rtdecode.sim.evoked`) driven by the image's latent features (:mod:`rtdecode.sim.stimuli`).

Everything is produced by :class:`SignalGenerator`, a chunked generator whose filters and random
streams carry their state, so that any chunking yields the same samples; an offline session is
that generator run over the whole schedule (:func:`rtdecode.sim.session.simulate_session`), and a
live LSL outlet (:mod:`rtdecode.sim.live`) runs it chunk by chunk and calls
:meth:`SignalGenerator.present` when an external presenter shows an image.

The subject knows its ground truth: latent vectors, prototypes, noise-free class-mean responses,
and an oracle classifier (:meth:`SimulatedSubject.oracle_predict`) to report next to real models
(:mod:`rtdecode.sim.oracle` applies it to a recording).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from scipy import signal

from rtdecode.classes import class_names_for, super_categories_for
from rtdecode.config import PipelineConfig
from rtdecode.io.markers import BLOCK_END, BLOCK_START, block_marker, stimulus_marker
from rtdecode.signal.filters import design_filter_bank
from rtdecode.sim.background import build_background_model
from rtdecode.sim.config import SimulationConfig, to_samples
from rtdecode.sim.evoked import build_evoked_model, snr_channels
from rtdecode.sim.montage import evenly_spread_montage
from rtdecode.sim.seeds import TAG_ORDER, TAG_TRIAL, seeded_rng
from rtdecode.sim.stimuli import ImageRenderer, make_latent_space, write_image_folder


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
        self.montage = evenly_spread_montage(cfg.n_channels)
        self.channel_names = list(self.montage.names)
        self.class_names = class_names_for(cfg.n_classes)
        self.super_categories = super_categories_for(cfg.n_classes)
        self.latents = make_latent_space(cfg.seed, cfg.n_classes, cfg.images_per_class)
        self._image_lookup = {name: i for i, name in enumerate(self.latents.image_ids)}
        self._renderer = ImageRenderer(cfg.seed, cfg.image_size)
        self._background = build_background_model(cfg, self.montage)
        self._evoked = build_evoked_model(cfg, self.montage, self.background_band_rms())

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
        channels = snr_channels(self.montage)
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
        rng = seeded_rng(self.config.seed, TAG_ORDER, self.config.subject)
        return rng.permutation(len(self.image_ids))

    def schedule(self) -> list[ScheduledEvent]:
        """All markers of the session in time order (block boundaries and image onsets).

        Blocks are numbered from 0. ``block_start`` shares its sample with the block's first
        onset and comes before it; ``block_end`` marks the end of the last image.
        """
        cfg = self.config
        image_samples = to_samples(cfg.image_s, cfg.sfreq)
        per_block = cfg.images_per_block
        order = self.image_order()
        events: list[ScheduledEvent] = []
        sample = to_samples(cfg.lead_in_s, cfg.sfreq)
        for block in range(cfg.n_blocks):
            events.append(self._event(sample, block_marker(BLOCK_START, block)))
            for image in order[block * per_block : (block + 1) * per_block]:
                label = int(self.image_labels[image])
                text = stimulus_marker(self.image_ids[image], label, self.class_names[label], block)
                events.append(self._event(sample, text, int(image)))
                sample += image_samples
            events.append(self._event(sample, block_marker(BLOCK_END, block)))
            sample += to_samples(cfg.break_s, cfg.sfreq)
        return events

    def session_samples(self) -> int:
        """Length of the scheduled session in samples (ends after the last break)."""
        return self.config.session_samples

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
        start = to_samples(tmin_s, self.sfreq)
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
        rng = seeded_rng(cfg.seed, TAG_TRIAL, cfg.subject, at, index)
        shift, weights = self._evoked.trial(self.subject.image_latents[index], rng, cfg.sfreq)
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
