"""The paper's generated-data experiment (PartDistill section 9) as a recipe of pd commands.

Three students of one category are distilled: from a "train set", from "generated" shapes, and
from both at once (`pd distill --shapes A --shapes B`), and each is scored on a test set with
`pd eval`. The paper reports (GLIP, ShapeNetPart, Pre): train-set 86.2 / generated 85.3 / both
88.4 on chairs.

Offline (the default), the train set, the generated shapes and the test set are three procedural
collections of different seeds (so different draws of the recipes' styles), taught by the noisy
simulated box teacher; it runs in a few minutes on 2 cores. With a GPU and the data:

    --generator shap-e --snp-root shapenetcore_partanno_segmentation_benchmark_v0_normal \
        --teacher grounding-dino --device cuda

takes the train and test sets from ShapeNetPart (pd import) and generates with Shap-E.

Every command is printed as it runs, so the recipe can be rerun by hand; the table comes last.

    .venv/bin/python benchmarks/bench_generated.py [--category chair] [--shapes 32] [--test 16]
        [--epochs 25] [--out generated-experiment]
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path


def pd(*args: str) -> None:
    command = [str(Path(sys.executable).with_name("pd")), *args]
    print("$ pd " + shlex.join(args), flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", default="chair")
    parser.add_argument(
        "--shapes", type=int, default=32, help="Shapes in the train set and in the generated set."
    )
    parser.add_argument("--test", type=int, default=16, help="Test shapes (offline).")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--points", type=int, default=1024)
    parser.add_argument("--generator", default="procedural", choices=["procedural", "shap-e", "point-e"])
    parser.add_argument(
        "--snp-root",
        type=Path,
        help="ShapeNetPart: the train set is its train split, the test set its test split.",
    )
    parser.add_argument("--teacher", default="simulated")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=Path("generated-experiment"))
    args = parser.parse_args()
    out, category = args.out, args.category
    start = time.perf_counter()
    teach = ["--teacher", args.teacher, "--image-size", "400", "--sheets", "4", "--device", args.device]
    if args.snp_root is None:
        pd(
            "synth",
            "--category",
            category,
            "--n",
            str(args.shapes),
            "--seed",
            "1",
            "--out",
            str(out / "train"),
        )
        pd("synth", "--category", category, "--n", str(args.test), "--seed", "3", "--out", str(out / "test"))
        test = ["--dataset", "collection", "--root", str(out / "test")]
    else:
        snp = str(args.snp_root)
        pd(
            "import",
            "--dataset",
            "shapenetpart",
            "--root",
            snp,
            "--split",
            "train",
            "--categories",
            category,
            "--out",
            str(out / "train"),
        )
        test = ["--dataset", "shapenetpart", "--root", snp, "--categories", category]
    pd(
        "synth",
        "--category",
        category,
        "--n",
        str(args.shapes),
        "--seed",
        "2",
        "--generator",
        args.generator,
        "--device",
        args.device,
        "--out",
        str(out / "generated"),
    )
    for collection in ("train", "generated"):
        pd("teach", "--shapes", str(out / collection), *teach)
    training = [
        "--epochs",
        str(args.epochs),
        "--points",
        str(args.points),
        "--device",
        args.device,
        "--resume",
    ]
    settings = {
        "train set": ["--shapes", str(out / "train")],
        "generated": ["--shapes", str(out / "generated")],
        "generated & train set": ["--shapes", str(out / "train"), "--shapes", str(out / "generated")],
    }
    scores = {}
    for number, (name, shapes) in enumerate(settings.items()):
        run = out / f"run-{number}"
        pd("distill", *shapes, "--out", str(run), *training)
        pd("eval", *test, "--run", str(run), "--out", str(out / f"eval-{number}"), "--device", args.device)
        report = json.loads((out / f"eval-{number}" / "report.json").read_text())
        scores[name] = report["methods"]["student"]["categories"][category]
    took = time.perf_counter() - start
    print(f"\n{category}: student mIoU (%) on the test set, by what it was distilled from ({took:.0f} s)")
    for name, value in scores.items():
        print(f"{name:<24}{value:>7.1f}")


if __name__ == "__main__":
    main()
