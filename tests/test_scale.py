"""pd synth, pd teach and per-category distillation on a local Ray cluster (skipped without Ray).

The cluster is a `ray start --head` in a temporary folder, reached through localhost only; the
drivers are `pd` processes (or this test process) that join it through RAY_ADDRESS.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]' runs these tests")

from partdistill.collection import Collection  # noqa: E402
from partdistill.errors import PdError  # noqa: E402
from partdistill.prompts import find_category  # noqa: E402
from partdistill.scale import RayOptions, run_on_ray, synthesize_on_ray  # noqa: E402
from partdistill.synth import SynthConfig, prepare  # noqa: E402
from partdistill.synth.procedural import ProceduralGenerator  # noqa: E402

PD = str(Path(sys.executable).with_name("pd"))
RAY = str(Path(sys.executable).with_name("ray"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local Ray cluster of 2 CPUs; yields its address."""
    folder = tmp_path_factory.mktemp("ray")
    with socket.socket() as probe:  # a free port: never a cluster another run left behind
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    # The cluster's files live in the test's own folder, and every driver looks for them there; a
    # localhost cluster for tests needs no authentication token (Ray may have left one in ~/.ray).
    saved = {name: os.environ.get(name) for name in ("RAY_TMPDIR", "RAY_AUTH_MODE")}
    os.environ.update(RAY_TMPDIR=str(folder), RAY_AUTH_MODE="disabled")
    env = dict(os.environ)
    started = subprocess.run(
        [RAY, "start", "--head", "--num-cpus", "2", "--port", port, "--node-ip-address", "127.0.0.1",
         "--include-dashboard", "false", "--temp-dir", str(folder), "--disable-usage-stats"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if started.returncode != 0:
        _restore(saved)
        pytest.skip(f"could not start a local Ray cluster: {started.stderr.strip()[-300:]}")
    address = f"127.0.0.1:{port}"
    ray.init(address=address, log_to_driver=False)
    try:
        yield address
    finally:
        ray.shutdown()
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True)
        _restore(saved)


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _pd(*args: str, address: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **({"RAY_ADDRESS": address} if address else {})}
    return subprocess.run([PD, *args], env=env, capture_output=True, text=True)


def _files(root: Path, pattern: str) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob(pattern))}


def _records(root: Path) -> list[dict]:
    return sorted((r.to_dict() for r in Collection.open(root)), key=lambda r: r["id"])


def test_synth_and_teach_on_ray_give_the_same_bytes_as_one_process(cluster: str, tmp_path: Path) -> None:
    synth = ["synth", "--category", "chair", "--n", "6", "--points", "500"]
    assert _pd(*synth, "--out", str(tmp_path / "plain")).returncode == 0
    done = _pd(*synth, "--out", str(tmp_path / "ray"), "--ray", "--workers", "2", address=cluster)
    assert done.returncode == 0, done.stderr
    assert "On Ray: 2 workers" in done.stdout
    assert _files(tmp_path / "plain", "*.npz") == _files(tmp_path / "ray", "*.npz")
    assert _records(tmp_path / "plain") == _records(tmp_path / "ray")
    teach = ["teach", "--image-size", "96", "--sheets", "2"]
    assert _pd(*teach, "--shapes", str(tmp_path / "plain")).returncode == 0
    done = _pd(*teach, "--shapes", str(tmp_path / "ray"), "--ray", "--workers", "2", address=cluster)
    assert done.returncode == 0, done.stderr
    knowledge = "knowledge/simulated-noisy-box"
    plain, distributed = tmp_path / "plain" / knowledge, tmp_path / "ray" / knowledge
    assert _files(plain, "*.npz") == _files(distributed, "*.npz") and len(_files(plain, "*.npz")) == 6
    assert len(_files(distributed, "*.png")) == 2


def test_a_killed_driver_resumes_without_making_a_shape_twice(cluster: str, tmp_path: Path) -> None:
    # 200 small shapes: warm workers make them in seconds, long enough to be caught midway even
    # when this process is scheduled late on a busy machine (with 40, a whole run once finished
    # and folded its log between two looks, and the test waited for lines that would never come).
    out = str(tmp_path / "t")
    synth = [PD, "synth", "--category", "table", "--n", "200", "--points", "400", "--out", out]
    errors = tmp_path / "driver.err"
    with errors.open("w") as stderr:
        environment = {**os.environ, "RAY_ADDRESS": cluster}
        driver = subprocess.Popen(
            [*synth, "--ray", "--workers", "2"], env=environment, stdout=subprocess.DEVNULL, stderr=stderr
        )
    log = tmp_path / "t" / "manifest.log"
    deadline = time.time() + 600  # Ray starts slowly on a busy machine; the loop ends at 5 shapes
    recorded = lambda: log.read_text().count("\n") if log.exists() else 0  # noqa: E731
    while time.time() < deadline and driver.poll() is None and recorded() < 5:
        time.sleep(0.05)
    ended = driver.poll()
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert ended is None, f"the driver ended by itself (exit code {ended}): {errors.read_text()[-2000:]}"
    assert log.exists(), f"the driver made no shape in 10 minutes: {errors.read_text()[-2000:]}"
    made = len(Collection.open(tmp_path / "t"))
    assert 5 <= made < 200, "the driver was meant to die midway"
    resumed = _pd(*synth[1:], "--ray", "--workers", "2", address=cluster)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{made} of 200 shapes are already there" in resumed.stdout
    plain = _pd(
        "synth", "--category", "table", "--n", "200", "--points", "400", "--out", str(tmp_path / "plain")
    )
    assert plain.returncode == 0
    # The kill may land inside a shape's atomic write: its hidden temporary stays (pd never deletes
    # a file it cannot tell is its own) and is never read; every shape file is as in one process.
    shapes = _files(tmp_path / "t", "*.npz")
    left = [name for name in shapes if Path(name).name.startswith(".") and ".tmp-" in name]
    assert len(left) <= 1  # the driver writes one shape at a time
    assert _files(tmp_path / "plain", "*.npz") == {k: v for k, v in shapes.items() if k not in left}
    assert _records(tmp_path / "plain") == _records(tmp_path / "t")


def _flaky(bad_seed: int, dies: bool = False):
    """A generator factory whose procedural generator raises on one shape (its seed), or with
    `dies` whose worker process exits there, every time: a lost worker, not an error of the work.
    Defined in a function, so that Ray ships it to the workers by value."""

    class Flaky:
        name, uses_prompts = "procedural", False

        def __init__(self) -> None:
            self.inner = ProceduralGenerator(n_points=300)

        def generate(self, request):
            if request.seed == bad_seed:
                if dies:
                    os._exit(1)
                raise RuntimeError("this worker cannot make that shape")
            return self.inner.generate(request)

    return lambda config, device: Flaky()


def test_a_worker_lost_past_its_retry_ends_in_one_sentence(cluster: str, tmp_path: Path) -> None:
    from partdistill.synth.run import item_seed

    config = SynthConfig(category="chair", n=3, n_points=300)
    collection, todo = prepare(config, tmp_path / "c")
    with pytest.raises(PdError, match=r"^A Ray worker was lost \(\w+\) and its retry with it; run the same"):
        list(
            synthesize_on_ray(
                config, collection, todo, RayOptions(workers=1), _flaky(item_seed(0, 1), dies=True)
            )
        )
    assert [r.id for r in Collection.open(tmp_path / "c").ok_records] == ["chair-00000"]  # kept


def _manifest_of_one_process(config: SynthConfig, tmp_path: Path, bad_seed: int) -> bytes:
    from partdistill.synth import synthesize

    collection, todo = prepare(config, tmp_path / "one")
    list(synthesize(config, _flaky(bad_seed)(config, "cpu"), collection, todo))
    return (tmp_path / "one" / "manifest.json").read_bytes()


def test_a_worker_that_raises_on_one_shape_leaves_the_others_done(cluster: str, tmp_path: Path) -> None:
    from partdistill.synth.run import item_seed

    config = SynthConfig(category="chair", n=5, n_points=300)
    collection, todo = prepare(config, tmp_path / "c")
    records = list(
        synthesize_on_ray(config, collection, todo, RayOptions(workers=2), _flaky(item_seed(0, 2)))
    )
    assert len(records) == 5
    reopened = Collection.open(tmp_path / "c")
    assert [r.id for r in reopened.ok_records] == ["chair-00000", "chair-00001", "chair-00003", "chair-00004"]
    assert (tmp_path / "c" / "manifest.json").read_bytes() == _manifest_of_one_process(
        config, tmp_path, item_seed(0, 2)
    )
    assert reopened["chair-00002"].error == "RuntimeError: this worker cannot make that shape"


def test_jobs_run_as_tasks_with_their_resources(cluster: str) -> None:
    def job(name: str):
        return lambda: find_category(name).key

    jobs = [job(c) for c in ("chair", "table", "lamp")]
    assert sorted(run_on_ray(jobs, RayOptions(workers=2))) == ["chair", "lamp", "table"]


@pytest.mark.parametrize(
    "asked", [("--gpus-per-worker", "1"), ("--cpus-per-worker", "3"), ("--workers", "3")]
)
def test_workers_the_cluster_cannot_hold_are_refused(
    cluster: str, tmp_path: Path, asked: tuple[str, str]
) -> None:
    """Ray would queue them forever without a word, and the shapes handed to them with them (a
    third worker of one CPU hung pd synth at 5/6); the 2-CPU test cluster has no GPU."""
    if float(ray.cluster_resources().get("GPU", 0)) >= 1:
        pytest.skip("this cluster has a GPU")
    out = tmp_path / "out"
    synth = ["synth", "--category", "chair", "--n", "6", "--points", "256", "--out", str(out)]
    done = _pd(*synth, "--ray", *asked, address=cluster)
    said = " ".join(done.stderr.split())
    assert done.returncode == 1 and "do not fit the Ray cluster at" in said and "its nodes hold" in said
    assert asked[0] in said and "Traceback" not in said
    assert not out.exists()


def test_an_address_where_nothing_answers_is_refused_at_once(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "out"
    synth = [
        "synth",
        "--category",
        "chair",
        "--n",
        "2",
        "--out",
        str(out),
        "--ray-address",
        f"127.0.0.1:{port}",
    ]
    done = _pd(*synth)
    said = " ".join(done.stderr.split())
    assert (
        done.returncode == 1
        and f"Could not reach the Ray cluster at 127.0.0.1:{port}: nothing answers" in said
    )
    assert not out.exists()


def test_tasks_run_as_many_at_once_as_there_are_workers(cluster: str) -> None:
    def job():
        start = time.monotonic()
        time.sleep(0.5)
        return start, time.monotonic()

    spans = sorted(run_on_ray([job, job, job], RayOptions(workers=1)))
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))  # one after another


def test_without_ray_nothing_imports_it(tmp_path: Path) -> None:
    args = ["synth", "--category", "chair", "--n", "2", "--points", "200", "--out", str(tmp_path / "c")]
    code = (
        "import sys; from typer.testing import CliRunner; from partdistill.cli import app\n"
        f"result = CliRunner().invoke(app, {args!r})\n"
        "assert result.exit_code == 0, result.output; print('ray' in sys.modules)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    )
    shutil.rmtree(tmp_path / "c")


def test_one_run_per_category_as_ray_tasks(cluster: str, tmp_path: Path) -> None:
    for name in ("chair", "table"):
        assert (
            _pd(
                "synth", "--category", name, "--n", "4", "--points", "300", "--out", str(tmp_path / name)
            ).returncode
            == 0
        )
    args = ["distill", "--categories", "chair,table", "--shapes", str(tmp_path / "{category}")]
    args += [
        "--out",
        str(tmp_path / "runs" / "{category}"),
        "--epochs",
        "2",
        "--min-steps",
        "0",
        "--points",
        "128",
        "--image-size",
        "64",
    ]
    done = _pd(*args, "--ray", "--workers", "2", address=cluster)
    assert done.returncode == 0, done.stderr
    for name in ("chair", "table"):
        student = tmp_path / "runs" / name / "student.json"
        assert student.is_file() and f'"category": "{name}"' in student.read_text()
        assert (tmp_path / name / "knowledge" / "simulated-noisy-box" / "teach_config.json").is_file()


def test_a_category_that_fails_on_its_input_stops_none_of_the_others_on_ray(
    cluster: str, tmp_path: Path
) -> None:
    for name in ("mug", "chair"):
        synth = ["synth", "--category", name, "--n", "3", "--points", "300", "--out", str(tmp_path / name)]
        assert _pd(*synth).returncode == 0
    next((tmp_path / "mug").glob("shapes/*.npz")).write_bytes(b"not a zip archive")
    args = ["distill", "--categories", "mug,chair", "--shapes", str(tmp_path / "{category}")]
    args += ["--out", str(tmp_path / "runs" / "{category}"), "--epochs", "2", "--min-steps", "0"]
    done = _pd(*args, "--points", "128", "--image-size", "64", "--ray", "--workers", "1", address=cluster)
    said = " ".join(done.stderr.split())
    assert done.returncode == 1 and "Error: 1 of 2 categories failed. mug: " in said, done.stderr
    assert "Traceback" not in said and "│ chair " in done.stdout
    assert (tmp_path / "runs" / "chair" / "student.safetensors").is_file()
