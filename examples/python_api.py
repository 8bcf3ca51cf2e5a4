"""partdistill from Python, start to end: make chairs, teach them, distil a student, label points.

    python examples/python_api.py [folder]        # writes into folder (default: example-out/)

Offline and small (about a minute on two CPU cores): procedural chairs and the simulated teacher.
With weights and a GPU, the same calls take `generator="shap-e"`, `teacher="grounding-dino"` and
`device="cuda"`.
"""

import sys
from pathlib import Path

import numpy as np

import partdistill.api as ptd
from partdistill.progress import Printed


def main(folder: Path) -> None:
    chairs = ptd.synth("chair", n=8, points=1024, out=folder / "chairs")
    taught = ptd.teach(chairs, image_size=200, sheets=0)
    if taught.lifting is not None:  # None when every chair was taught by an earlier run
        print(f"direct lifting of the teacher's units: {taught.lifting:.1f} mIoU")

    run = ptd.distill(  # Printed(): plain lines (each note, every 30 s, each stage's end), as in a notebook
        chairs,
        out=folder / "run",
        epochs=30,
        min_steps=0,
        batch_size=4,
        points=512,
        resume=True,
        progress=Printed(),
    )
    new_chairs = ptd.synth("chair", n=1, seed=1, points=1024, out=folder / "new")
    record, shape = next(new_chairs.shapes())
    labels = run.predict(shape.points)  # [N, 3] float -> [N] int, in run.parts
    shares = np.bincount(labels, minlength=len(run.parts)) / len(labels)
    parts = ", ".join(f"{part} {share:.0%}" for part, share in zip(run.parts, shares, strict=True))
    print(f"{record.id}: {parts}")

    again = ptd.load_run(folder / "run")  # the same student, from its folder
    assert (again.predict(shape.points) == labels).all()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("example-out"))
