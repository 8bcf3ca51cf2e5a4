"""Whose a folder is, by the records pd's commands leave in it.

An output folder handed to one command must not be another command's: pd view, pd distill and
pd import read a folder by its records, and a pd predict or pd eval writing beside them would be
read as that folder's own (pd view of a run showed another command's page in its place), even
where no file is overwritten.
"""

from __future__ import annotations

from pathlib import Path

from partdistill.collection import MANIFEST
from partdistill.errors import PdError, option
from partdistill.knowledge.store import KnowledgeStore

INPUTS_FILE = "inputs.json"  # where pd predict maps its output names to its inputs: a folder of predictions
REPORT = "report.json"  # pd eval's scores: a folder of an evaluation
COLLECTION_KIND = "a shape collection"  # what `kind_of` calls a collection


def kind_of(folder: Path) -> str | None:
    """What pd wrote `folder` as, in words ("a pd distill run"), None where it is none of pd's."""
    if (folder / MANIFEST).is_file():
        return COLLECTION_KIND
    if KnowledgeStore.is_store(folder):
        return "a pd teach folder"
    if (folder / "config.json").is_file():
        from partdistill.distill.train import holds_run  # with torch: only where a run may be

        if holds_run(folder):
            return "a pd distill run"
    if (folder / INPUTS_FILE).is_file():
        return "a pd predict folder"
    if (folder / REPORT).is_file():
        return "a pd eval report"
    return None


def refuse_others(
    out: Path, own: str, *, read_from: tuple[Path, ...] = (), read_within: tuple[Path, ...] = ()
) -> None:
    """Refuse (PdError) an `out` that is another command's folder (its kind is not `own`, in
    `kind_of`'s words), or one of the folders `read_from` (the inputs' own folder), or one inside
    a folder of `read_within` (a benchmark's root, read at every depth), whose reader would take
    the outputs for inputs."""
    kind = kind_of(out)
    where = out.resolve()
    if kind is None and out.is_dir() and any(where == folder.resolve() for folder in read_from):
        kind = "a folder this command reads"
    around = next(
        (f for f in read_within if where != f.resolve() and where.is_relative_to(f.resolve())), None
    )
    if around is not None:  # whatever it holds: an earlier report there is read back too
        raise PdError(
            f"{out} lies inside {around}, which this command reads at every depth: give {option('out')} a "
            "folder outside it."
        )
    if kind is not None and kind != own:
        raise PdError(f"{out} is {kind}; give {option('out')} a folder of its own.")
