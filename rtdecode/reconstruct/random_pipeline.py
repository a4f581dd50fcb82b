"""Random-weight Stable Diffusion pipelines with real architectures, built with nothing downloaded.

For tests and benchmarks: the loading, sampling, caching and timing code runs on the real classes
(``UNet2DConditionModel``, ``AutoencoderKL``, ``CLIPTextModel``, a real ``CLIPTokenizer``) while
the weights are random, so the images are noise. Speed does not depend on the weights, so the
real-size architectures give honest timings.

The tokenizer is the real CLIP BPE tokenizer: its vocabulary and merges ship inside open_clip
(``open_clip.tokenizer.SimpleTokenizer``) and are written in the files ``CLIPTokenizer`` reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Architectures: UNet / VAE / text encoder dimensions. "sd-turbo" is SD 2.1 (what SD-Turbo
# distils), "sd15" is Stable Diffusion 1.5; both as in their published diffusers configs.
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "tiny": {
        "unet": {
            "block_out_channels": (8, 16),
            "layers_per_block": 1,
            "sample_size": 32,
            "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
            "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
            "cross_attention_dim": 32,
            "attention_head_dim": 4,
            "norm_num_groups": 4,
        },
        "vae": {
            "block_out_channels": (8, 16),
            "layers_per_block": 1,
            "norm_num_groups": 4,
            "sample_size": 64,
        },
        "text": {
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_attention_heads": 4,
            "num_hidden_layers": 2,
            "projection_dim": 32,
        },
        "scheduler": "turbo",
    },
    "sd-turbo": {
        "unet": {
            "block_out_channels": (320, 640, 1280, 1280),
            "layers_per_block": 2,
            "sample_size": 64,
            "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            "cross_attention_dim": 1024,
            "attention_head_dim": (5, 10, 20, 20),
            "use_linear_projection": True,
            "norm_num_groups": 32,
        },
        "vae": {
            "block_out_channels": (128, 256, 512, 512),
            "layers_per_block": 2,
            "norm_num_groups": 32,
            "sample_size": 512,
        },
        "text": {
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_attention_heads": 16,
            "num_hidden_layers": 23,
            "projection_dim": 512,
            "hidden_act": "gelu",
        },
        "scheduler": "turbo",
    },
    "sd15": {
        "unet": {
            "block_out_channels": (320, 640, 1280, 1280),
            "layers_per_block": 2,
            "sample_size": 64,
            "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            "cross_attention_dim": 768,
            "attention_head_dim": 8,
            "norm_num_groups": 32,
        },
        "vae": {
            "block_out_channels": (128, 256, 512, 512),
            "layers_per_block": 2,
            "norm_num_groups": 32,
            "sample_size": 512,
        },
        "text": {
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
            "num_hidden_layers": 12,
            "projection_dim": 768,
            "hidden_act": "quick_gelu",
        },
        "scheduler": "standard",
    },
}


def write_clip_tokenizer(folder: str | Path) -> Path:
    """Write the CLIP BPE tokenizer files (``vocab.json``, ``merges.txt``, ``tokenizer_config.json``,
    ``special_tokens_map.json``) that ``transformers.CLIPTokenizer.from_pretrained`` reads.

    open_clip names the special tokens ``<start_of_text>`` / ``<end_of_text>``; CLIP's files call
    them ``<|startoftext|>`` / ``<|endoftext|>`` (ids 49406 / 49407 either way).
    """
    from open_clip.tokenizer import SimpleTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bpe = SimpleTokenizer()
    renamed = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocab = {renamed.get(token, token): index for token, index in bpe.encoder.items()}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges = sorted(bpe.bpe_ranks.items(), key=lambda item: item[1])
    lines = ["#version: 0.2"] + [f"{a} {b}" for (a, b), _ in merges]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    special = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
    }
    config = {"tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "do_lower_case": True, **special}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=1), encoding="utf-8")
    return folder


def build_random_pipeline(
    architecture: str = "tiny", tokenizer_dir: str | Path | None = None, seed: int = 0, device: str = "cpu"
) -> Any:
    """A ``StableDiffusionPipeline`` with random weights (float32, on ``device``).

    Parameters
    ----------
    architecture : {"tiny", "sd-turbo", "sd15"}
        ``"tiny"`` builds in well under a second (64 x 64 images); the real sizes take a few GB.
    tokenizer_dir : str or Path, optional
        Where :func:`write_clip_tokenizer` wrote (or will write) the tokenizer; default a temporary folder.
    seed : int
        Seed of the random weights.
    device : str
        Where the weights are created (a GPU builds the real sizes much faster).
    """
    import tempfile

    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        PNDMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture {architecture!r} is not one of {', '.join(ARCHITECTURES)}")
    spec = ARCHITECTURES[architecture]
    if tokenizer_dir is None:
        tokenizer_dir = Path(tempfile.mkdtemp(prefix="clip-tokenizer-"))
    if not (Path(tokenizer_dir) / "vocab.json").exists():
        write_clip_tokenizer(tokenizer_dir)
    tokenizer = CLIPTokenizer.from_pretrained(str(tokenizer_dir))
    torch.manual_seed(seed)
    with torch.device(device):
        unet = UNet2DConditionModel(in_channels=4, out_channels=4, **spec["unet"])
        n_blocks = len(spec["vae"]["block_out_channels"])
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            down_block_types=("DownEncoderBlock2D",) * n_blocks,
            up_block_types=("UpDecoderBlock2D",) * n_blocks,
            **spec["vae"],
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=49408,
                max_position_embeddings=77,
                bos_token_id=49406,
                eos_token_id=49407,
                pad_token_id=49407,
                **spec["text"],
            )
        )
    betas = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "steps_offset": 1}
    if spec["scheduler"] == "turbo":
        scheduler = EulerDiscreteScheduler(timestep_spacing="trailing", **betas)
    else:
        scheduler = PNDMScheduler(skip_prk_steps=True, **betas)
    return StableDiffusionPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
