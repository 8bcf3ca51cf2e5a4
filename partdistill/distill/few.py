"""Generated shapes for a user's few: `pd distill --shapes mine --mode tta --with generated/`.

A user with a handful of shapes synthesises many more of the category (`pd synth`), teaches them,
and wants the best labels of their own. Three candidates label the user's shapes:

- "generated": a student distilled on the generated shapes alone (`pd distill --mode pre` on
  them), in `<run>/generated/`; it never sees the user's units, so it cannot learn their errors
  back, and it does not depend on the user's shapes (a rerun resumes it);
- "student": that student fine-tuned briefly on the user's units (`fine_tune_config`: a few
  optimisation steps at a lower learning rate), the run's own student;
- "lifting": direct lifting of the user's units.

Which one is handed over is decided without labels (`partdistill.distill.choose.compare_candidates`):
each is scored on the user's units of the odd views, the fine-tuned student through a twin
fine-tuned on the even views' units only, lifting through lifting of the even views' units, and
the generated student as it is (it saw no view).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from partdistill.collection import MANIFEST
from partdistill.distill.config import DistillConfig
from partdistill.distill.sources import Source, plan_sources
from partdistill.errors import PdError, option
from partdistill.knowledge.h5 import find_h5_files
from partdistill.knowledge.store import KnowledgeStore
from partdistill.prompts import Category, find_category
from partdistill.teach.config import TeachConfig

GENERATED_DIR = "generated"  # the generated shapes' student: a run folder inside the run's
FROM_GENERATED = "from-generated"  # its labels of the user's shapes, beside predictions/
# The fine-tune of the generated shapes' student on the user's units: optimisation steps, and
# learning rate as a share of the run's (measured in docs/quality.md).
FINE_TUNE_STEPS = 50
FINE_TUNE_LR = 1 / 3


def plan_generated(
    paths: tuple[Path, ...],
    category: Category,
    sources: list[Source],
    teach: TeachConfig,
    pinned: tuple[str, ...],
    config: DistillConfig,
) -> list[Source]:
    """The sources of the --with folders (`paths`): collections of generated shapes (taught first
    where they have no knowledge yet), their pd teach folders, or folders of h5 files, all of
    `category`, the category of the shapes to label (`sources`); refused outside TTA mode."""
    if not paths:
        return []
    if config.mode != "tta":
        raise PdError(
            f"{option('with_')} is for {option('mode')} tta, which labels your shapes with the help of "
            f"generated ones; to distil one student from several collections, repeat {option('shapes')}."
        )
    # The shapes to label, as collections or h5 folders: a --with folder at or inside one of them
    # (their pd teach folder) would teach the student their own units as if generated.
    labelled = [
        Path(source.collection.root if source.collection else source.label).resolve() for source in sources
    ]
    shapes, knowledge = [], []
    for path in paths:
        if not path.exists():
            raise PdError(
                f"{path} does not exist: {option('with_')} takes a collection of generated shapes, its "
                "pd teach folder, or a folder of PartDistill h5 files."
            )
        if any(path.resolve().is_relative_to(root) for root in labelled):
            raise PdError(
                f"{path} holds the shapes to label (or their knowledge); {option('with_')} takes other "
                "shapes of their category."
            )
        if (path / MANIFEST).is_file():
            shapes.append(path)
            continue
        h5 = path.suffix == ".h5" if path.is_file() else bool(find_h5_files(path, required=False))
        if not (KnowledgeStore.is_store(path) or h5):
            raise PdError(
                f"{path} is none of what {option('with_')} takes: a collection of generated shapes "
                "(pd synth, or pd import of shape files), its pd teach folder, or a folder of "
                "PartDistill h5 files."
            )
        knowledge.append(path)
    _, generated = plan_sources(shapes, knowledge, category, teach, pinned)
    _refuse_the_same_files(sources, generated)
    for source in generated:
        if source.collection is None:
            continue
        own = {find_category(name) for name in {r.category for r in source.collection.ok_records} if name}
        other = sorted(c.name for c in own if c != category)
        if other:
            raise PdError(
                f"{source.collection.root} holds {other[0]} shapes, but the shapes to label are "
                f"{category.name}: {option('with_')} takes generated shapes of their category "
                f"(`pd synth --category {category.name}`)."
            )
    return generated


def _refuse_the_same_files(sources: list[Source], generated: list[Source]) -> None:
    """Refuse generated shapes that are the shapes to label under another folder (a copy of their
    collection, or the same files imported again): the held-out check would then score a student
    on the views it was taught. Their files' bytes tell, whatever the folders."""
    labelled = {
        source.collection.digest(record): record.id
        for source in sources
        if source.collection is not None
        for record in source.collection.ok_records
    }
    for source in generated:
        if source.collection is None:
            continue
        for record in source.collection.ok_records:
            twin = labelled.get(source.collection.digest(record))
            if twin is not None:
                raise PdError(
                    f"{source.collection.root} holds {record.id}, the same shape file as {twin} of the "
                    f"shapes to label; {option('with_')} takes other shapes of their category."
                )


def generated_config(config: DistillConfig, generated: list[Source]) -> DistillConfig:
    """The settings of the generated shapes' student: the run's, on the generated sources (each
    shape equally often), in pre mode."""
    return dataclasses.replace(
        config, mode="pre", sources=tuple(source.label for source in generated), weights=None
    )


def fine_tune_config(config: DistillConfig, run_dir: Path, generated: list[Source]) -> DistillConfig:
    """The settings of the run's own student: the student of the `generated` sources (in
    `run_dir`'s generated/) fine-tuned on the user's units for `FINE_TUNE_STEPS` steps at
    `FINE_TUNE_LR` of the learning rate, forward only."""
    return dataclasses.replace(
        config,
        epochs=1,
        min_steps=FINE_TUNE_STEPS,
        lr=config.lr * FINE_TUNE_LR,
        backward=False,
        start_from=str(run_dir / GENERATED_DIR),
        generated=tuple(source.label for source in generated),
    )
