"""`pd synth`, `pd teach` and per-category `pd distill` on a Ray cluster (the `ray` extra).

Ray core actors and tasks, not Ray Data: the work is a list of shapes (or categories) whose
results must land one by one in a collection, resumably and in a record per shape, and each
worker must load its generator or teacher once. Actors do exactly that (one per worker, holding
its model; `ActorPool` keeps them busy); Ray Data's `map_batches` would add a dataset, blocks and
writers around the same actors and take the per-shape records and resume out of our hands.

Storage:
- synth and teach ship their results back: workers receive what they need from the driver (the
  shape to teach) and return what they made (a shape, units, a contact sheet as PNG bytes), and
  the driver writes it into the collection, atomically and in its record. Workers need no access
  to the driver's files, so nodes need not share a file system.
- per-category distill tasks write their run folders themselves (their checkpoints are what
  makes them resumable), so `--out` must be on storage every node sees: a shared file
  system or a mounted bucket; on one machine, its own disk.

Shape i is made from (settings, seed, i) alone, so it is the same bytes whichever worker makes it
and however many there are; a driver killed midway resumes with the same command, skipping the
shapes already recorded; a lost worker's task is retried on another (Ray's max_task_retries).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from partdistill.collection import Collection, ShapeRecord
from partdistill.errors import MissingDependencyError, PdError, option
from partdistill.prompts import Category, register_category
from partdistill.synth.base import Generator

if TYPE_CHECKING:
    from partdistill.teach.run import Teaching

INSTALL = "pip install -e '.[ray]' (or: pip install 'ray[default]')"
_END = object()


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run.

    Attributes:
        address: the cluster to join ("auto": $RAY_ADDRESS if set, else a new local cluster).
        workers: how many workers (actors or tasks at once).
        cpus_per_worker: CPUs each worker reserves (and the torch / BLAS threads it uses).
        gpus_per_worker: GPUs each worker reserves (fractions share a GPU); with any, workers run
            their models on CUDA.
    """

    address: str = "auto"
    workers: int = 2
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0

    def __post_init__(self) -> None:
        from partdistill.errors import check_number

        check_number(self.workers, "workers", at_least=1, whole=True)
        check_number(self.cpus_per_worker, "cpus_per_worker", above=0)
        check_number(self.gpus_per_worker, "gpus_per_worker", at_least=0)
        if not isinstance(self.address, str) or not self.address.strip():
            raise PdError(
                f'{option("address")} takes the cluster\'s host:port (or "auto"), not {self.address!r}.'
            )

    @property
    def device(self) -> str:
        return "cuda" if self.gpus_per_worker > 0 else "cpu"

    def describe(self) -> str:
        each = f"{self.cpus_per_worker:g} CPU and {self.gpus_per_worker:g} GPU"
        return f"On Ray: {self.workers} worker{'s' if self.workers != 1 else ''}, {each} each."

    @property
    def threads(self) -> int:
        return max(1, int(self.cpus_per_worker))


_joined: list[str] = []  # the address this process joined ("local": a cluster it started)


def connect(options: RayOptions) -> Any:
    """Start Ray in this process (the driver): join the cluster, or start a local one; returns ray.

    A process that joined a cluster for an earlier call (a notebook's) joins again where the call
    asks for another (or a larger local one); a Ray the caller started itself is used as it is.
    Either way the workers must fit the cluster (`_check_fits`)."""
    try:
        import ray
    except ImportError as error:
        raise MissingDependencyError("ray", option("ray"), INSTALL) from error
    address = options.address
    if address == "auto":
        address = os.environ.get("RAY_ADDRESS") or "local"
    if _joined and not ray.is_initialized():
        _joined.clear()  # the caller has shut it down since
    # The cluster an earlier call joined: another than the one asked for now, or a local one too
    # small for these workers, is left for the one asked for.
    if _joined and (_joined[0] != address or (address == "local" and _held(ray, options) < options.workers)):
        ray.shutdown()
        _joined.clear()
    if not ray.is_initialized():
        _join(ray, address, options)
    _check_fits(
        ray, options, "the new local Ray cluster" if address == "local" else f"the Ray cluster at {address}"
    )
    return ray


def _join(ray: Any, address: str, options: RayOptions) -> None:
    """`ray.init` for `address` ("local": a new cluster on this machine, as large as the workers
    ask, even where another runs here), or one PdError."""
    cpus = max(1, math.ceil(options.workers * options.cpus_per_worker))
    if address == "local" and cpus > (os.cpu_count() or 1):
        raise PdError(
            f"{options.workers} workers of {options.cpus_per_worker:g} CPU each ({option('workers')}, "
            f"{option('cpus_per_worker')}) ask for {cpus} CPUs, and this machine has {os.cpu_count()}; "
            "ask for fewer."
        )
    _answers(address)
    # ray.init replaces the process's SIGTERM handler by sys.exit; the caller's (the `pd`
    # program's, which stops a command as Ctrl-C does) is put back.
    terminate = signal.getsignal(signal.SIGTERM)
    # Ray's warnings are shown (a cluster's security setting among them); its info lines are not:
    # pd's own note says where the work runs.
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    try:
        try:
            if address == "local":
                ray.init(address="local", num_cpus=cpus, include_dashboard=False, **quiet)
            else:
                ray.init(address=address, **quiet)
        finally:
            if terminate is not None and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, terminate)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = "a new local cluster" if address == "local" else address
        raise PdError(f"Could not reach the Ray cluster at {where} ({error}).") from error
    except SystemExit as error:
        # Ray's handler, there while ray.init ran, exits with SIGTERM's number: a stop, which the
        # caller's handler (put back first, so that it sees its own) ends as it ends one.
        if error.code == signal.SIGTERM and callable(terminate):
            terminate(signal.SIGTERM, None)
        raise
    _joined[:] = [address]


def _answers(address: str) -> None:
    """Refuse (PdError) a host:port where nothing answers, in seconds: ray.init would wait minutes,
    retrying. Other forms (ray://, a local name) are left to Ray."""
    import socket

    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or "/" in host or not host:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as error:
        raise PdError(
            f"Could not reach the Ray cluster at {address}: nothing answers there "
            f"({error.strerror or error}); is its head node running (ray start --head)?"
        ) from error


def _check_fits(ray: Any, options: RayOptions, where: str) -> None:
    """Refuse workers that the cluster cannot hold all at once: Ray would queue the rest forever,
    and the work handed to them would wait with it, silently."""
    fits = _held(ray, options)
    if fits < options.workers:
        if _joined:  # a cluster this process joined (or started) for the call: left again
            ray.shutdown()
            _joined.clear()
        asked = f"{options.cpus_per_worker:g} CPU" + (
            f" and {options.gpus_per_worker:g} GPU" if options.gpus_per_worker else ""
        )
        raise PdError(
            f"{options.workers} workers of {asked} each ({option('workers')}, {option('cpus_per_worker')}, "
            f"{option('gpus_per_worker')}) do not fit {where}: its nodes hold {fits} at once; ask for "
            "fewer or smaller workers."
        )


def _held(ray: Any, options: RayOptions) -> int:
    """How many workers of `options` the cluster's live nodes hold at once."""
    return sum(_workers_on(node["Resources"], options) for node in ray.nodes() if node["Alive"])


def _workers_on(node: dict, options: RayOptions) -> int:
    """How many workers of `options` one node (its total resources) holds at once."""
    held = math.floor(float(node.get("CPU", 0.0)) / options.cpus_per_worker + 1e-9)
    if options.gpus_per_worker:
        held = min(held, math.floor(float(node.get("GPU", 0.0)) / options.gpus_per_worker + 1e-9))
    return max(0, held)


def _actors(ray: Any, worker: type, options: RayOptions, *args: Any) -> Any:
    """An ActorPool of `options.workers` actors of `worker`, built with `args`."""
    from ray.util import ActorPool

    remote = ray.remote(worker).options(
        num_cpus=options.cpus_per_worker,
        num_gpus=options.gpus_per_worker,
        max_restarts=1,
        max_task_retries=1,
    )
    return ActorPool([remote.remote(*args) for _ in range(options.workers)])


def _stream(pool: Any, values: Iterable[Any], call: Callable[[Any, Any], Any]) -> Iterator[Any]:
    """Results of `call(actor, value)` over `values` as they finish, with a value handed out only
    when an actor is free (so the driver never holds every input at once)."""
    pending = iter(values)
    exhausted = False
    while True:
        while not exhausted and pool.has_free():
            value = next(pending, _END)
            if value is _END:
                exhausted = True
            else:
                pool.submit(call, value)
        if not pool.has_next():
            return
        with _lost_workers_said():
            result = pool.get_next_unordered()
        yield result


# --- pd synth ---------------------------------------------------------------------------------------


class SynthWorker:
    """A Ray actor that builds its generator once and makes shapes by index."""

    def __init__(
        self, config: Any, catalogue: dict, make: Callable[[Any, str], Generator], options: RayOptions
    ):
        from partdistill.threads import cpu_threads

        register_category(Category.from_record(catalogue))
        self.config, self.threads = config, options.threads
        with cpu_threads(self.threads):
            self.generator = make(config, options.device)

    def make(self, index: int) -> Any:
        from partdistill.prompts import find_category
        from partdistill.synth.run import make_shape
        from partdistill.threads import cpu_threads

        with cpu_threads(self.threads):
            return make_shape(self.config, self.generator, find_category(self.config.category), index)


def synthesize_on_ray(
    config: Any,
    collection: Collection,
    todo: list[int],
    options: RayOptions,
    make_generator: Callable[[Any, str], Generator] | None = None,
) -> Iterator[ShapeRecord]:
    """`synth.synthesize` with the shapes made by Ray workers; the driver records them as they come.

    `make_generator(config, device)` builds a worker's generator (default: `synth.build_generator`).
    """
    from partdistill.prompts import find_category
    from partdistill.synth import build_generator
    from partdistill.synth.run import record_made, start_run

    ray = connect(options)
    catalogue = find_category(config.category).to_record()
    pool = _actors(ray, SynthWorker, options, config, catalogue, make_generator or build_generator, options)
    start_run(config, collection)
    try:
        for made in _stream(pool, todo, lambda actor, index: actor.make.remote(index)):
            yield record_made(config, collection, made)
    finally:
        collection.compact(sort=True)  # the manifest of a one-process run: shapes by index


# --- pd teach ---------------------------------------------------------------------------------------


class TeachWorker:
    """A Ray actor that builds its teacher once and teaches the shapes it is sent."""

    def __init__(self, config: Any, catalogue: dict, options: RayOptions):
        from partdistill.teach.config import build_config_teacher
        from partdistill.threads import cpu_threads

        self.category = register_category(Category.from_record(catalogue))
        self.config, self.threads = config, options.threads
        with cpu_threads(self.threads):
            self.teacher = build_config_teacher(config, options.device)

    def teach(self, job: tuple[str, Any, bool]) -> Any:
        from partdistill.teach.run import teach_one
        from partdistill.teach.teachers import labels_in_category
        from partdistill.threads import cpu_threads

        shape_id, shape, sheet = job
        with cpu_threads(self.threads):
            taught = teach_one(shape_id, shape, self.category, self.teacher, self.config, sheet)
            return taught, labels_in_category(shape, self.category)


def teach_on_ray(
    collection: Collection, category: Category, config: Any, store: Any, options: RayOptions, sheets: int = -1
) -> Teaching:
    """`teach.run.teach` with the shapes taught by Ray workers, one teacher per worker; the
    driver sends each shape and writes the units and sheets that come back. As there, the run is
    begun here (the cluster joined, the settings checked) and taught as the iterator is read."""
    from partdistill.teach.run import Teaching, begin_teaching, sheets_to_draw

    ray = connect(options)
    todo = begin_teaching(collection, category, config.teacher == "simulated", config, store)
    drawn = sheets_to_draw(store, todo, sheets)
    return Teaching(len(todo), _taught_on_ray(ray, collection, category, config, store, options, todo, drawn))


def _taught_on_ray(
    ray: Any,
    collection: Collection,
    category: Category,
    config: Any,
    store: Any,
    options: RayOptions,
    todo: list[ShapeRecord],
    drawn: set[str],
) -> Iterator[Any]:
    """What `teach_on_ray` returns: its shapes `todo` taught by the workers as they are asked for."""
    from partdistill.teach.run import TeachResult, keep

    records = {record.id: record for record in todo}
    made_from: dict[str, str] = {}  # the digest of the bytes each shape was read from (`keep`)

    def job(record: ShapeRecord) -> tuple[str, Any, bool]:
        shape, made_from[record.id] = collection.read(record)
        return record.id, shape, record.id in drawn

    pool = _actors(ray, TeachWorker, options, config, category.to_record(), options)
    jobs = (job(record) for record in todo)
    for taught, labels in _stream(pool, jobs, lambda actor, job: actor.teach.remote(job)):
        keep(store, taught, made_from.pop(taught.id))
        yield TeachResult(records[taught.id], taught.knowledge, taught.n_predictions, labels)


# --- pd distill, one run per category --------------------------------------------------------------


def run_on_ray(jobs: list[Callable[[], Any]], options: RayOptions) -> Iterator[Any]:
    """Run each job (a picklable function, e.g. one category's distillation into its run folder)
    as a Ray task with a worker's resources, `options.workers` at once; yields their results as
    they finish. A task whose worker is lost is retried, and its run resumes from its checkpoint."""
    ray = connect(options)
    remote = ray.remote(_call).options(
        num_cpus=options.cpus_per_worker, num_gpus=options.gpus_per_worker, max_retries=1
    )
    waiting, pending = iter(jobs), []
    while True:
        pending += [
            remote.remote(job, options.threads)
            for job in itertools.islice(waiting, options.workers - len(pending))
        ]
        if not pending:
            return
        done, pending = ray.wait(pending, num_returns=1)
        with _lost_workers_said():
            result = ray.get(done[0])
        yield result


@contextlib.contextmanager
def _lost_workers_said() -> Iterator[None]:
    """A worker lost for good (killed, its node gone) after Ray's retry, as one PdError rather than
    Ray's page of traceback. An error the work itself raised (a PdError included) comes through as
    it is."""
    from ray import exceptions

    try:
        yield
    except (exceptions.RayActorError, exceptions.WorkerCrashedError, exceptions.NodeDiedError,
            exceptions.ObjectLostError) as error:  # fmt: skip
        raise PdError(
            f"A Ray worker was lost ({type(error).__name__}) and its retry with it; run the same command "
            "again to continue where it stopped."
        ) from error


def _call(job: Callable[[], Any], threads: int) -> Any:
    from partdistill.threads import cpu_threads

    with cpu_threads(threads):
        return job()
