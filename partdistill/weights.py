"""Model weights that download on first use: where they are cached, and what to say when they are not.

The real teachers, Shap-E and the dense-CLIP teacher's open_clip weights come from the Hugging Face
Hub and are kept in its cache (`huggingface_hub.constants.HF_HUB_CACHE`: $HF_HOME/hub, by default
~/.cache/huggingface/hub). Offline (HF_HUB_OFFLINE=1, or no network) a model that is not cached
cannot load; `MissingWeights` says so in one sentence that names the model id, the cache folder
and the command that fetches it, and the caller adds what still works offline (`with_advice`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from partdistill.errors import PdError
from partdistill.logs import held_back


def hub_cache() -> Path:
    """The Hugging Face Hub cache this process reads ($HF_HUB_CACHE, or $HF_HOME/hub)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def hub_offline() -> bool:
    """Whether HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) forbids downloads in this process."""
    import os

    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("TRANSFORMERS_OFFLINE", "") in ("1", "true")


# The suffixes of weights files in the Hub's repositories (transformers', diffusers', open_clip's).
WEIGHTS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


def is_cached(repo: str) -> bool:
    """Whether a snapshot of the Hub repository `repo` ("org/name") in the cache holds weights: a
    download cut short leaves a snapshot of its small files, or links to blobs never finished."""
    snapshots = hub_cache() / f"models--{repo.replace('/', '--')}" / "snapshots"
    try:
        return any(
            path.suffix in WEIGHTS_SUFFIXES and path.is_file()  # is_file follows the link to its blob
            for folder in snapshots.iterdir()
            if folder.is_dir()
            for path in folder.rglob("*")
        )
    except OSError:
        return False


def _hub_id(repo: str) -> bool:
    """Whether `repo` has the form of a Hub repository id ("name" or "org/name")."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo)
    except HFValidationError:
        return False
    return True


def refuse_unreachable(what: str, repo: str, timeout: float = 3.0) -> None:
    """`MissingWeights` at once where `repo` (a Hub id) is not cached and would be downloaded, but
    the Hub's host takes no connection within `timeout` seconds: without network huggingface_hub
    retries each file for about 25 s before it gives up (51 s for open_clip's two), in silence.
    Behind a proxy the download is left to try."""
    import socket
    import urllib.parse
    import urllib.request

    from huggingface_hub import constants

    proxied = bool(urllib.request.getproxies())  # the environment's, or the system's (macOS, Windows)
    if hub_offline() or proxied or is_cached(repo) or Path(repo).expanduser().is_dir():
        return
    endpoint = urllib.parse.urlsplit(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
    except (OSError, ValueError) as error:
        raise MissingWeights(what, repo) from error


@contextlib.contextmanager
def loading_from_hub(what: str, repo: str) -> Iterator[None]:
    """Around a `from_pretrained(repo)` of `what` (transformers', diffusers'): refused at once where
    the Hub is out of reach (`refuse_unreachable`), huggingface_hub's retries held back (ten lines
    without network), and its failures told in one sentence: files it could not find or fetch as
    `MissingWeights`, files it could not read as `DamagedWeights`."""
    refuse_unreachable(what, repo)
    try:
        with held_back("huggingface_hub"):
            yield
    except PdError:
        raise
    except (OSError, ValueError) as error:
        raise MissingWeights(what, repo) from error
    except Exception as error:
        if DamagedWeights.caused(error):
            raise DamagedWeights(what, repo, error) from error
        raise


def fetch_command(repo: str) -> str:
    """The command that puts `repo` into the Hub cache (the `hf` command comes with huggingface_hub)."""
    return f"hf download {repo}"


class DamagedWeights(PdError):
    """A model's files are there (cached, or in the folder given) but cannot be read: a download
    cut short, a file truncated or replaced."""

    def __init__(self, what: str, repo: str | None, error: BaseException) -> None:
        """`repo`: the Hub repository or local folder the files came from (None: elsewhere)."""
        self.what, self.repo, self.error = what, repo, error
        if repo is None:  # open_clip's weights from a URL
            where, fetch = "its cached files", ""
        elif Path(repo).expanduser().is_dir():
            where, fetch = f"its files in {repo}", ""
        else:
            where = f"its files in the Hugging Face cache ({hub_cache()})"
            fetch = f"; fetch them again with `{fetch_command(repo)} --force-download`"
        named = f" '{repo}'" if repo else ""
        super().__init__(
            f"Could not load {what}{named}: {where} are damaged or incomplete "
            f"({type(error).__name__}: {str(error)[:200]}){fetch}."
        )

    def __reduce__(self) -> tuple:
        return (DamagedWeights, (self.what, self.repo, self.error))

    @staticmethod
    def caused(error: BaseException) -> bool:
        """Whether `error`, raised while loading a model, says its files are damaged (not its id)."""
        import pickle

        truncated = isinstance(error, RuntimeError) and "PytorchStreamReader failed" in str(error)
        unreadable = isinstance(error, pickle.UnpicklingError | EOFError)
        return truncated or unreadable or type(error).__name__ == "SafetensorError"


class MissingWeights(PdError):
    """A model's weights are neither cached nor downloadable: one sentence naming the model, the
    cache and the fetch command, and what works without them (`with_advice`).

    Attributes:
        what: the model in words ("the Grounding DINO model").
        repo: its Hugging Face repository id (or the local folder it was asked from).
        advice: what works without it, a clause ("" for none).
        cache: where its weights are looked for (None: the Hugging Face cache).
        fetch: the command that fetches them (None: `hf download <repo>`).
    """

    def __init__(
        self, what: str, repo: str, advice: str = "", cache: Path | None = None, fetch: str | None = None
    ) -> None:
        self.what, self.repo, self.advice, self.cache, self.fetch = what, repo, advice, cache, fetch
        hub = cache is None
        folder = hub_cache() if cache is None else cache
        if hub and Path(repo).expanduser().is_dir():  # a local folder, not a Hub id
            text = f"Could not load {what} from {repo}: the folder does not hold its files"
        elif hub and not _hub_id(repo):
            text = (
                f"Could not load {what} from '{repo}': it is neither a folder here nor a Hugging Face "
                "model id (name or org/name)"
            )
        else:
            where = f"the Hugging Face cache ({folder})" if hub else str(folder)
            offline = hub and hub_offline()
            text = (
                f"Could not load {what} '{repo}': it is not in {where}"
                + (
                    " and HF_HUB_OFFLINE is set, so it was not downloaded"
                    if offline
                    else " and could not be downloaded (check the model id and the network)"
                )
                + f"; fetch it with `{fetch or fetch_command(repo)}` where there is network (then copy "
                + (f"{folder} here, or point HF_HOME at a copy)" if hub else f"{folder} here)")
            )
        super().__init__(text + (f"; {advice}" if advice else "") + ".")

    def __reduce__(self) -> tuple:  # rebuilt from its fields (a Ray worker's error is pickled)
        return (MissingWeights, (self.what, self.repo, self.advice, self.cache, self.fetch))

    def with_advice(self, advice: str) -> MissingWeights:
        """The same sentence, ending with `advice`."""
        return MissingWeights(self.what, self.repo, advice, self.cache, self.fetch)
