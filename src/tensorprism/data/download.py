"""Finding, verifying and (on machines with internet) downloading dataset files.

Loading is local-first: a dataset looks for its files in a list of directories (the data root's
sub-folder first, then places where system packages put them), verifies every file against a pinned
checksum, and only downloads when asked to (``download=True``). Tests never download.

* :func:`file_digest` / :func:`verify_digest` -- sha256 or md5 of a file or of bytes; a mismatch
  raises :class:`~tensorprism.errors.ChecksumError` naming the file, both digests and the fix.
* :func:`download` -- ``urllib`` to a temporary file in the destination folder, hashed while it
  streams, checked, then renamed atomically into place (a crash never leaves a half file under
  the final name).
* :func:`find_first` -- the first directory holding all of a dataset's files (each may also be
  ``.gz``-compressed); :func:`missing` builds the :class:`~tensorprism.errors.DatasetNotFoundError`
  that says exactly which files to put where, and how to obtain them.
* :func:`cache_dir` -- a writable folder for derived caches (``$TENSORPRISM_CACHE`` or
  ``~/.cache/tensorprism``), separate from the data root, which may be read-only.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import ChecksumError, DatasetNotFoundError

_BLOCK = 1 << 20


def cache_dir(*parts: str) -> Path:
    """A writable cache folder: ``$TENSORPRISM_CACHE`` or ``~/.cache/tensorprism``, plus ``parts``."""
    base = os.environ.get("TENSORPRISM_CACHE")
    root = Path(base).expanduser() if base else Path.home() / ".cache" / "tensorprism"
    return root.joinpath(*parts)


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def verify_digest(
    what: str | os.PathLike, expected: str, *, data: bytes | None = None, algorithm: str = "sha256",
    fix: str = "delete it and obtain the file again",
) -> None:
    """Raise :class:`ChecksumError` unless the digest of ``data`` (or of file ``what``) is ``expected``.

    ``what`` names the file in the message; pass ``data`` to hash bytes already in memory (for
    example the decompressed content of a ``.gz`` file).
    """
    actual = hashlib.new(algorithm, data).hexdigest() if data is not None else file_digest(what, algorithm)
    if actual != expected.lower():
        raise ChecksumError(
            f"{what}: {algorithm} is {actual} but {expected} was expected (the file is corrupt, "
            f"truncated or a different version); {fix}."
        )


def read_maybe_gz(path: str | os.PathLike) -> bytes:
    """The bytes of ``path``, decompressed when its name ends in ``.gz``."""
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as f:
            return f.read()
    return path.read_bytes()


def find_first(names: Sequence[str], places: Iterable[str | os.PathLike]) -> dict[str, Path] | None:
    """The files ``names`` from the first directory in ``places`` that holds all of them.

    Each name may be present as itself or as ``name + '.gz'`` (the uncompressed file wins).
    Returns ``{name: path}`` or ``None`` when no directory has the full set.
    """
    for place in places:
        place = Path(place).expanduser()
        found = {}
        for name in names:
            for candidate in (place / name, place / (name + ".gz")):
                if candidate.is_file():
                    found[name] = candidate
                    break
        if len(found) == len(names):
            return found
    return None


def missing(dataset: str, names: Sequence[str], places: Sequence[str | os.PathLike], obtain: str) -> DatasetNotFoundError:
    """The error for a dataset whose files are in none of ``places`` (it says what to do)."""
    where = "\n".join(f"  - {Path(p).expanduser()}" for p in places)
    files = ", ".join(names)
    return DatasetNotFoundError(
        f"dataset {dataset!r} not found: expected the files {files} (each may be .gz-compressed) "
        f"together in one of these folders:\n{where}\nTo obtain them: {obtain}"
    )


def download(
    url: str, dest: str | os.PathLike, *, sha256: str | None = None, md5: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying its checksum on the way.

    The bytes stream into a temporary file beside ``dest`` while being hashed; on a checksum
    mismatch the temporary file is removed and :class:`ChecksumError` raised, otherwise it is
    renamed onto ``dest`` with :func:`os.replace` (atomic on POSIX and Windows). Network failures
    raise :class:`DatasetNotFoundError` saying the machine looks offline and what to do instead.
    """
    if sha256 is None and md5 is None:
        raise ValueError("download() needs a sha256 or md5 checksum to verify the file")
    algorithm, expected = ("sha256", sha256) if sha256 is not None else ("md5", md5)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.new(algorithm)
    fd, tmp = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - fixed https URLs
                    for block in iter(lambda: response.read(_BLOCK), b""):
                        h.update(block)
                        out.write(block)
            except OSError as exc:  # URLError, timeouts, DNS failures are all OSErrors
                raise DatasetNotFoundError(
                    f"could not download {url} ({exc}); the machine may be offline. Put the file "
                    f"at {dest} yourself and load again without download=True."
                ) from exc
        if h.hexdigest() != expected.lower():
            raise ChecksumError(
                f"{url}: downloaded {algorithm} is {h.hexdigest()} but {expected} was expected "
                f"(the download was corrupted or the server changed the file); try again."
            )
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


__all__ = ["cache_dir", "download", "file_digest", "find_first", "missing", "read_maybe_gz", "verify_digest"]
