"""What `pd info` reports: versions, devices, optional backends, and where weights are cached."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from partdistill.devices import resolve_device

CORE_PACKAGES = (
    "torch",
    "numpy",
    "diffusers",
    "transformers",
    "open_clip_torch",
    "trimesh",
    "plyfile",
    "h5py",
    "typer",
    "rich",
)
# Optional backends: import name -> what it enables.
BACKENDS = {
    "point_e": "Point-E generator (pip install -e '.[point-e]')",
    "embreex": "mesh rendering by Embree ray casting (installed with partdistill)",
    "open_clip": "the dense-CLIP teacher (installed with partdistill; needs torchvision)",
}


@dataclass(frozen=True)
class Row:
    """One line of the report: a name, its value, and a note."""

    name: str
    value: str
    note: str = ""


def versions() -> list[Row]:
    """Python, partdistill and the core packages, with their installed versions."""
    from partdistill import __version__

    rows = [Row("python", platform.python_version(), platform.platform()), Row("partdistill", __version__)]
    for package in CORE_PACKAGES:
        try:
            rows.append(Row(package, importlib.metadata.version(package)))
        except importlib.metadata.PackageNotFoundError:
            rows.append(Row(package, "missing", "required: reinstall partdistill"))
    return rows


def devices() -> list[Row]:
    """Which torch devices are usable, and what `--device auto` picks."""
    import torch

    rows = [Row("cpu", "yes", f"{torch.get_num_threads()} threads")]
    cuda = torch.cuda.is_available()
    names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) if cuda else ""
    rows.append(Row("cuda", "yes" if cuda else "no", names))
    mps = getattr(torch.backends, "mps", None)
    rows.append(Row("mps", "yes" if mps is not None and mps.is_available() else "no"))
    rows.append(Row("auto", resolve_device("auto")))
    return rows


def backends() -> list[Row]:
    """Whether each optional backend imports."""
    rows = []
    for module, purpose in BACKENDS.items():
        try:
            importlib.import_module(module)
            rows.append(Row(module, "available", purpose))
        except Exception as error:  # any import failure means the backend is unusable here
            rows.append(Row(module, "not available", f"{purpose}; {type(error).__name__}"))
    return rows


def models() -> list[Row]:
    """Each model that downloads on first use: its weights, whether they are cached here, and the
    command that fetches them where they are not."""
    from partdistill.synth.point_e import CACHED_FILES, cache_dir
    from partdistill.synth.shap_e import DEFAULT_MODEL
    from partdistill.teach.teachers import TEACHERS
    from partdistill.weights import fetch_command, is_cached

    hub = [(f"--teacher {name}", kind.weights) for name, kind in TEACHERS.items() if kind.weights]
    rows = []
    for user, repo in [*hub, ("--generator shap-e", DEFAULT_MODEL)]:
        cached = is_cached(repo)
        rows.append(Row(user, repo, "cached" if cached else f"not cached: {fetch_command(repo)}"))
    for name, file in CACHED_FILES.items():
        cached = (cache_dir() / file).is_file()
        note = "cached" if cached else "not cached: run pd synth --generator point-e once with network"
        rows.append(Row("--generator point-e", name, note))
    return rows


def caches() -> list[Row]:
    """Where downloaded weights live (set the environment variables named in the notes to move them)."""
    from huggingface_hub import constants

    from partdistill.synth.point_e import cache_dir

    hub = Path(constants.HF_HUB_CACHE)
    offline = "offline mode (HF_HUB_OFFLINE=1)" if constants.HF_HUB_OFFLINE else "downloads on first use"
    return [
        Row(
            "hugging face hub",
            str(hub),
            f"Shap-E, Grounding DINO, OWLv2, CLIPSeg, open_clip; HF_HOME; {offline}",
        ),
        Row("point-e", str(cache_dir()), "PD_POINT_E_CACHE"),
        Row(
            "torch hub",
            str(Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))),
            "TORCH_HOME",
        ),
    ]
