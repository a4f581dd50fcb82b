"""Time to image of the reconstruction path, and live decoding latency with generation turned on.

Parts (each a key of the JSON written to --out):

- ``tiny_cpu``: a tiny random-weight Stable Diffusion pipeline (real diffusers classes, real CLIP
  tokenizer) saved and loaded through :meth:`Generator.load`; time per image and the round trip
  through :class:`ImageService` (request -> on_image). Measures overhead, not a real model.
- ``real_size_cuda`` (when CUDA is available): random-weight pipelines with the real SD-Turbo
  (SD 2.1) and SD 1.5 architectures (dimensions in :mod:`rtdecode.reconstruct.random_pipeline`,
  nothing downloaded), float16, 512 x 512, 1 and 4 steps, plus SD 1.5's 25 steps with guidance 7.5.
  Speed does not depend on the weights. Target: a one-step 512 x 512 image under 150 ms on an
  H100-class GPU.
- ``real_size_cpu`` (with --cpu-real-size): the SD-Turbo architecture at 256 x 256, one step, float32
  on the CPU, to show what a CPU-only machine can expect (seconds, not milliseconds).
- ``live`` (unless --no-live): a simulated session replayed in real time over LSL into the online
  decoder (full-size student, as benchmarks/bench_live.py), twice: without images, then with an
  :class:`ImageService` asked for a new image (variety) on every prediction. Decoding latency of
  both runs side by side with generation time, images produced and requests dropped.

Run:  python benchmarks/bench_reconstruct.py [--runs 20] [--live-minutes 1] [--cpu-real-size]
      [--out bench-results/reconstruct.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from bench_common import write_result  # noqa: E402 (a sibling script)

from rtdecode.reconstruct import Generator, ImageService, sampling_defaults
from rtdecode.reconstruct.random_pipeline import build_random_pipeline

TARGET_ONE_STEP_512_MS = 150.0


def stats_ms(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {
        "n": int(len(ms)),
        "p50": round(float(np.percentile(ms, 50)), 2),
        "p95": round(float(np.percentile(ms, 95)), 2),
        "max": round(float(ms.max()), 2),
        "mean": round(float(ms.mean()), 2),
    }


def time_generator(generator: Generator, runs: int, warmup: int = 2) -> dict[str, Any]:
    """Time ``generate`` (prompt to uint8 pixels on the host, so the GPU work is finished)."""
    first = time.perf_counter()
    generator.generate("warm-up", seed=0)
    first = time.perf_counter() - first
    for i in range(warmup - 1):
        generator.generate("warm-up", seed=i + 1)
    times = []
    for i in range(runs):
        started = time.perf_counter()
        generator.generate(f"class {i % 40}", seed=i)
        times.append(time.perf_counter() - started)
    return {"first_call_ms": round(first * 1000, 1), "ms": stats_ms(times)}


def service_round_trip(generator: Generator, runs: int) -> dict[str, Any]:
    """request() -> on_image() through the worker threads, a new image every time (variety)."""
    names = [f"class {i}" for i in range(40)]
    arrived: list[float] = []
    service = ImageService(
        names, generator, variety=True, on_image=lambda _: arrived.append(time.perf_counter())
    )
    service.start()
    service.wait_ready()
    times = []
    for i in range(runs):
        before = len(arrived)
        asked = time.perf_counter()
        service.request(names[i % 40])
        service.wait_idle(60)
        if len(arrived) > before:
            times.append(arrived[-1] - asked)
    service.stop()
    return {"ms": stats_ms(times)}


def bench_tiny(runs: int, folder: Path) -> dict[str, Any]:
    pipe = build_random_pipeline("tiny", folder / "tokenizer")
    pipe.save_pretrained(folder / "tiny-sd")
    started = time.perf_counter()
    generator = Generator.load(folder / "tiny-sd", device="cpu")
    load_s = time.perf_counter() - started
    s = generator.settings
    return {
        "what": "tiny random-weight SD pipeline (real classes, real CLIP tokenizer), CPU float32",
        "size": f"{s.width}x{s.height}",
        "steps": s.steps,
        "load_s": round(load_s, 2),
        "generate": time_generator(generator, runs),
        "service_round_trip": service_round_trip(generator, runs),
    }


def real_size_generator(arch: str, device: str, dtype: torch.dtype, size: int, folder: Path) -> Generator:
    pipe = build_random_pipeline(arch, folder / "tokenizer", device=device).to(device, dtype)
    pipe.set_progress_bar_config(disable=True)
    settings = replace(sampling_defaults(pipe, arch), height=size, width=size)
    name = f"{arch} (random weights)"
    return Generator(pipe, settings, name=name, device=device, dtype=str(dtype).removeprefix("torch."))


def bench_real_cuda(runs: int, folder: Path) -> dict[str, Any]:
    device = "cuda"
    out: dict[str, Any] = {"gpu": torch.cuda.get_device_name(0), "dtype": "float16", "size": "512x512"}
    for arch in ("sd-turbo", "sd15"):
        generator = real_size_generator(arch, device, torch.float16, 512, folder)
        cases = [(1, 0.0), (4, 0.0)] + ([(25, 7.5)] if arch == "sd15" else [])
        for steps, guidance in cases:
            generator.settings = replace(generator.settings, steps=steps, guidance=guidance)
            key = f"{arch}_{steps}step" + ("_cfg7.5" if guidance > 1 else "")
            out[key] = time_generator(generator, runs if steps < 25 else max(3, runs // 4))
        generator.settings = replace(generator.settings, steps=1, guidance=0.0)
        out[f"{arch}_1step_service_round_trip"] = service_round_trip(generator, runs)
        del generator
        torch.cuda.empty_cache()
    one_step = out["sd-turbo_1step"]["ms"]["p50"]
    out["target_one_step_512_ms"] = TARGET_ONE_STEP_512_MS
    out["meets_target"] = one_step < TARGET_ONE_STEP_512_MS
    return out


def bench_real_cpu(folder: Path) -> dict[str, Any]:
    started = time.perf_counter()
    generator = real_size_generator("sd-turbo", "cpu", torch.float32, 256, folder)
    build_s = time.perf_counter() - started
    return {
        "what": "SD-Turbo (SD 2.1) architecture, random weights, CPU float32, 256x256, 1 step",
        "build_s": round(build_s, 1),
        "generate": time_generator(generator, runs=2, warmup=1),
    }


def live_run(minutes: float, device: str, generator: Generator | None) -> dict[str, Any]:
    """Replay a simulated session in real time into the online decoder (bench_live's run);
    optionally ask for an image on every prediction."""
    from bench_live import replay_into_decoder  # a sibling script: benchmarks/ is on sys.path

    names = [f"class {i}" for i in range(40)]
    images: list[Any] = []
    service = None
    if generator is not None:
        service = ImageService(names, generator, variety=True, on_image=images.append).start()
        service.wait_ready()
    run = replay_into_decoder(
        minutes, device, None if service is None else lambda p: service.request(p.label)
    )
    result: dict[str, Any] = {
        "predictions": run["predictions"],
        "decode_latency_ms": {k: round(v, 2) for k, v in run["latency_ms"].items() if k != "mean"},
        "dropped_samples": run["dropped_samples"],
    }
    if service is not None:
        service.wait_idle(30)
        service.stop()
        generated = [i.seconds for i in images if i.source == "generated"]
        result["images"] = {
            "generator": generator.describe(),
            "requested": service.requested,
            "produced": service.produced,
            "dropped": service.dropped,
            "generation_ms": stats_ms(generated) if generated else None,
        }
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="timed images per case (default: %(default)s)")
    parser.add_argument(
        "--live-minutes", type=float, default=1.0, help="replayed session length per live run"
    )
    parser.add_argument("--no-live", action="store_true", help="skip the live decoding part")
    parser.add_argument(
        "--cpu-real-size", action="store_true", help="also time the SD-Turbo architecture on the CPU"
    )
    parser.add_argument(
        "--live-generator",
        choices=["tiny", "sd-turbo"],
        default="tiny",
        help="generator during the live run (sd-turbo: random-weight real size; 512 px fp16 on CUDA, "
        "256 px on the CPU as a stress test)",
    )
    parser.add_argument("--out", default="bench-results/reconstruct.json")
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available()
    result: dict[str, Any] = {
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": cuda,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("tiny pipeline on the CPU ...", flush=True)
        result["tiny_cpu"] = bench_tiny(args.runs, folder)
        if cuda:
            print("real-size architectures on the GPU ...", flush=True)
            result["real_size_cuda"] = bench_real_cuda(args.runs, folder)
        if args.cpu_real_size:
            print("SD-Turbo architecture on the CPU (256x256, 1 step) ...", flush=True)
            result["real_size_cpu"] = bench_real_cpu(folder)
        if not args.no_live:
            device = "cuda" if cuda else "cpu"
            if args.live_generator == "sd-turbo":
                # On the CPU at 256 x 256 (seconds per image): a stress test of the decoder's CPU share.
                generator = (
                    real_size_generator("sd-turbo", "cuda", torch.float16, 512, folder)
                    if cuda
                    else real_size_generator("sd-turbo", "cpu", torch.float32, 256, folder)
                )
            else:
                generator = Generator.load(folder / "tiny-sd", device="cpu")
            print(f"live decoding without images ({args.live_minutes:g} min, real time) ...", flush=True)
            without = live_run(args.live_minutes, device, None)
            print(f"live decoding with an image per prediction ({generator.describe()}) ...", flush=True)
            with_images = live_run(args.live_minutes, device, generator)
            result["live"] = {"decoder_device": device, "without_images": without, "with_images": with_images}
    print(json.dumps(result, indent=2))
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
