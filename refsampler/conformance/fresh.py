"""A fresh Python process for ``resume_in_fresh_process``: a resume as a restarted job does it.

A sampler may keep its position in the process -- a module-level dict keyed by what
``state_dict()`` returns, a class attribute -- so that ``load_state_dict`` in the process that
saved the state continues exactly, while every real restart (a new process after a crash or a
preemption) replays or skips batches. The kit therefore hands one saved state to another
Python interpreter: ``sys.executable`` started afresh (never forked: a fork copies the
globals), with the kit's ``sys.path``, which imports the target by its name
(``MODULE:QUALNAME``), builds the sampler, loads the state and reads on.

One such process serves the whole kit process: :func:`warm` starts it when a run finds the
state methods (it imports the target while the run goes on), every (kind, configuration) and
every later run reuses it, and it exits after :data:`IDLE_SECONDS` without work, or with the
kit. Starting an interpreter that imports torch takes one to two seconds; a process per
configuration would multiply that. The process never sees the run's sampler objects, only the
import string, the arguments and the state; it reads forward from the states it is given and
never calls ``state_dict()``, so nothing it keeps between requests can be the position a
request asks for.

Every call of the sampler in the child (building it, ``load_state_dict``, ``set_epoch``, a
pass) runs under the kit's ``timeout``, as in the kit's own process; starting the interpreter
and importing the target get :data:`STARTUP_SECONDS` more (the kit imported the target without
a limit). A child that outlasts that is killed, and one that dies is a failure of the check,
never a pass.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import pickle
import queue
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, BinaryIO

__all__ = [
    "CALLS",
    "IDLE_SECONDS",
    "STARTUP_SECONDS",
    "FreshProcessFailed",
    "import_spec",
    "resume",
    "serve",
    "shutdown",
    "warm",
]

#: Seconds the child may take to start and import the target, besides its calls' timeouts.
STARTUP_SECONDS = 60.0
#: Seconds without a request after which the child is stopped.
IDLE_SECONDS = 30.0
#: Calls of the sampler per request (build, load_state_dict, two set_epoch, two passes): the
#: request's share of the timeout.
CALLS = 6

_HEADER = struct.Struct("<Q")
#: The child's first line of Python: the kit's package first, then the serving loop.
_BOOT = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from refsampler.conformance.fresh import serve; serve()"
)


class FreshProcessFailed(Exception):
    """The fresh process could not give the batches; the message says why."""


def import_spec(target: Any, spec: str | None = None) -> tuple[str, str, str]:
    """How a fresh interpreter imports ``target``: ``(MODULE:QUALNAME, module file, why not)``.

    Parameters
    ----------
    target : object
        The callable that builds the sampler.
    spec : str, optional
        ``MODULE:NAME`` it was loaded from (the command line's); otherwise its
        ``__module__`` and ``__qualname__``.

    Returns
    -------
    tuple of str
        The import string and the module's file ("" when it has none), with "" as the third
        item; or two empty strings and why a fresh interpreter cannot import it (a lambda, a
        local function, an object of ``__main__``, a module that is not on ``sys.path``).
    """
    if spec is None:
        module_name = getattr(target, "__module__", None)
        qualname = getattr(target, "__qualname__", None)
        if not isinstance(module_name, str) or not isinstance(qualname, str):
            return "", "", f"{target!r} has no module and qualified name"
        if "<" in qualname:
            return "", "", f"{module_name}.{qualname} is a lambda or a local function"
        spec = f"{module_name}:{qualname}"
    module_name, _, attribute = spec.partition(":")
    if module_name in ("__main__", "__mp_main__"):
        return "", "", f"{spec} is defined in __main__ (a script or an interactive session)"
    module = sys.modules.get(module_name)
    found: Any = module
    for part in attribute.split("."):
        found = getattr(found, part, None)
    try:
        same = module is not None and (found is target or bool(found == target))
    except Exception:  # an __eq__ that raises is no match
        same = False
    if not same:
        return "", "", f"{spec} does not name the target"
    top = module_name.split(".")[0]
    if not _findable(top):
        return "", "", f"module {top!r} is not found on sys.path (it was imported another way)"
    return spec, str(getattr(module, "__file__", None) or ""), ""


def _findable(top: str) -> bool:
    """Whether the import system finds the top-level module ``top`` without ``sys.modules``
    (pytest's importlib mode, for one, imports test files it could not find again)."""
    if top in sys.builtin_module_names:
        return True
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        try:
            if find(top, None) is not None:
                return True
        except Exception:  # a broken finder finds nothing
            continue
    return False


# -- the kit's side ---------------------------------------------------------------------------


def _write(stream: BinaryIO, message: bytes) -> None:
    stream.write(_HEADER.pack(len(message)) + message)
    stream.flush()


def _read(stream: BinaryIO) -> bytes | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    body = stream.read(size)
    return body if len(body) == size else None


class _Worker:
    """One child interpreter, its pipes and a thread that reads its replies."""

    def __init__(self) -> None:
        import refsampler

        root = os.path.dirname(os.path.dirname(os.path.abspath(refsampler.__file__)))
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, json.dumps([root, *map(str, sys.path)])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
        )
        self.owner = os.getpid()
        self.mark = 0
        self.imported: set[tuple[str, str]] = set()
        self.replies: queue.SimpleQueue[Any] = queue.SimpleQueue()
        threading.Thread(target=self._receive, daemon=True).start()

    def _receive(self) -> None:
        stream = self.process.stdout
        while stream is not None:
            try:
                body = _read(stream)  # type: ignore[arg-type]
                reply = None if body is None else pickle.loads(body)
            except Exception:  # a torn pipe or a reply that does not unpickle: gone
                reply = None
            self.replies.put(reply)
            if reply is None:
                stream.close()
                return

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def send(self, message: bytes) -> bool:
        # What the child writes to stderr from here on belongs to this request.
        self.mark = os.fstat(self.errors.fileno()).st_size
        try:
            _write(self.process.stdin, message)  # type: ignore[arg-type]
        except (BrokenPipeError, OSError, ValueError):
            return False
        return True

    def why_dead(self) -> str:
        try:
            code = self.process.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        # pread: the file offset is shared with the child's stderr and stays where it is.
        fd = self.errors.fileno()
        written = os.pread(fd, max(os.fstat(fd).st_size - self.mark, 0), self.mark)
        lines = [line for line in written.decode(errors="replace").splitlines() if line]
        text = f"the fresh process exited with status {code}"
        return text + (f" ({lines[-1].strip()})" if lines else "")

    def stop(self) -> None:
        if self.owner != os.getpid():  # a forked copy of the kit: the child is not ours
            return
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a kill that did not take
            pass
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:  # pragma: no cover - closing a torn pipe
                pass
        # The reply pipe is left to the reader thread, which closes it at its end: closing it
        # here would wait for the thread's lock, for ever if the sampler forked a process
        # that still holds the pipe open.
        self.errors.close()


_lock = threading.Lock()
_worker: _Worker | None = None
_idle: threading.Timer | None = None
#: True in the child process (tests' samplers read it to misbehave there only).
_serving = False


def _current() -> _Worker:
    global _worker
    if _worker is not None and not _worker.alive():
        _worker.stop()
        _worker = None
    if _worker is None:
        _worker = _Worker()
    return _worker


def _drop() -> None:
    global _worker
    if _worker is not None:
        _worker.stop()
        _worker = None


def _rest() -> None:
    """Stop the child after :data:`IDLE_SECONDS` without a request (the caller holds the
    lock)."""
    global _idle
    if _idle is not None:
        _idle.cancel()
    timer = threading.Timer(IDLE_SECONDS, lambda: _expire(timer))
    timer.daemon = True
    _idle = timer
    timer.start()


def _expire(timer: threading.Timer) -> None:
    global _idle
    with _lock:
        if _idle is timer:  # no request came since this timer was set
            _idle = None
            _drop()


def shutdown() -> None:
    """Stop the child process, if there is one (at exit, and after a spell of idleness)."""
    global _idle
    # At exit a thread may still wait on the child under the lock: do not wait for it long.
    held = _lock.acquire(timeout=5.0)
    try:
        if _idle is not None:
            _idle.cancel()
            _idle = None
        _drop()
    finally:
        if held:
            _lock.release()


atexit.register(shutdown)


def warm(spec: str, origin: str) -> None:
    """Start the child (if none runs) and have it import ``spec`` while the kit goes on.

    Parameters
    ----------
    spec : str
        The target as ``MODULE:QUALNAME`` (see :func:`import_spec`).
    origin : str
        The file the kit imported ``MODULE`` from, so that the child imports the same one.
    """
    with _lock:
        try:
            worker = _current()
        except OSError:  # no interpreter to start: the check says so when it runs
            return
        if (spec, origin) not in worker.imported:
            worker.send(pickle.dumps(("import", spec, origin, list(map(str, sys.path)))))
        _rest()


def resume(
    spec: str,
    origin: str,
    *,
    index_sampler: bool,
    arguments: dict[str, Any],
    state: bytes,
    epochs: list[int | None],
    timeout: float | None,
) -> list[list[list[int]]]:
    """In the child: build ``spec(**arguments)``, load the pickled ``state``, read one pass
    per item of ``epochs`` (``set_epoch(e)`` first unless None); return the passes.

    Parameters
    ----------
    spec, origin : str
        The target and its module's file, as for :func:`warm`.
    index_sampler : bool
        Whether the target is a per-index sampler (batched as the kit batches it).
    arguments : dict
        The keyword arguments of the target (labels included).
    state : bytes
        The pickled ``state_dict()`` to load.
    epochs : list of int or None
        One pass per item, after ``set_epoch(e)`` unless the item is None.
    timeout : float or None
        Seconds each call of the sampler may take in the child.

    Returns
    -------
    list of passes
        Each pass a list of batches, each batch a list of positions.

    Raises
    ------
    FreshProcessFailed
        When the sampler raised or outlasted ``timeout`` in the child, the child could not
        import the target, died, or gave no answer within ``STARTUP_SECONDS`` (a new target)
        plus ``CALLS * timeout`` (then it is killed).
    """
    content = {
        "index_sampler": index_sampler,
        "arguments": arguments,
        "state": state,
        "epochs": epochs,
        "timeout": timeout,
    }
    try:
        request = pickle.dumps(("resume", spec, origin, list(map(str, sys.path)), content))
    except Exception as exc:  # a configuration with an alpha schedule pickle cannot store
        raise FreshProcessFailed(
            f"the arguments cannot be sent to a fresh process ({type(exc).__name__}: {exc})"
        ) from None
    global _idle
    with _lock:
        if _idle is not None:
            _idle.cancel()
            _idle = None
        try:
            for _ in range(2):  # a child that imported another module of that name is replaced
                try:
                    worker = _current()
                except OSError as exc:
                    raise FreshProcessFailed(
                        f"no fresh process could be started ({sys.executable!r}: {exc})"
                    ) from None
                wait = None
                if timeout is not None:
                    wait = CALLS * timeout + 1.0
                    wait += STARTUP_SECONDS if (spec, origin) not in worker.imported else 0.0
                if not worker.send(request):
                    text = worker.why_dead()
                    _drop()
                    raise FreshProcessFailed(text)
                try:
                    reply = worker.replies.get(timeout=wait)
                except queue.Empty:
                    _drop()
                    raise FreshProcessFailed(
                        f"the fresh process gave no answer within {wait:g} s (--timeout): killed"
                    ) from None
                if reply is None:
                    text = worker.why_dead()
                    _drop()
                    raise FreshProcessFailed(text)
                if reply[0] == "stale":
                    _drop()
                    continue
                worker.imported.add((spec, origin))
                if reply[0] == "failed":
                    raise FreshProcessFailed(reply[1])
                passes: list[list[list[int]]] = reply[1]
                return passes
            raise FreshProcessFailed(f"a fresh process kept importing another {spec}")
        finally:
            _rest()


# -- the child's side -------------------------------------------------------------------------


def serve() -> None:
    """The child's loop: read requests from stdin, answer on the original stdout; return at
    the end of stdin (the kit closed it). Takes no arguments and returns nothing.

    The sampler's own output goes to stderr and its stdin is empty, so neither can tear
    the replies; a thread ends the process when the kit's process is gone.
    """
    global _serving
    _serving = True
    _watch_parent(os.getppid())
    replies = os.fdopen(os.dup(1), "wb")
    requests = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)
    empty = os.open(os.devnull, os.O_RDONLY)
    os.dup2(empty, 0)
    targets: dict[Any, Any] = {}
    while True:
        body = _read(requests)
        if body is None:
            return
        try:
            message = pickle.loads(body)
        except Exception as exc:
            _write(replies, pickle.dumps(("failed", f"the request did not unpickle: {exc!r}")))
            continue
        what, spec, origin, path = message[:4]
        if what == "import":
            try:
                _target(spec, origin, path, targets)
            except BaseException:  # the request for this target says what went wrong
                pass
            continue
        reply = _answer(spec, origin, path, message[4], targets)
        try:
            out = pickle.dumps(reply)
        except Exception as exc:
            out = pickle.dumps(("failed", f"the batches did not pickle: {exc!r}"))
        _write(replies, out)


def _watch_parent(parent: int) -> None:
    """End this process when the kit's process is gone, even in the middle of a sampler call
    no timer reaches (stdin's end is only read between requests)."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:  # re-parented: the kit died
                os._exit(0)

    threading.Thread(target=watch, name="refsampler-fresh-parent", daemon=True).start()


class _Stale(Exception):
    """Another module of the requested name was imported before."""


def _target(spec: str, origin: str, path: list[str], targets: dict[Any, Any]) -> Any:
    if (spec, origin) in targets:
        return targets[spec, origin]
    import importlib

    sys.path[:] = path
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    here = getattr(module, "__file__", None)
    if origin and here and os.path.realpath(here) != os.path.realpath(origin):
        raise _Stale(spec)
    found: Any = module
    for part in attribute.split("."):
        found = getattr(found, part)
    targets[spec, origin] = found
    return found


def _answer(
    spec: str, origin: str, path: list[str], request: dict[str, Any], targets: dict[Any, Any]
) -> tuple[Any, ...]:
    from . import calls

    try:
        target = _target(spec, origin, path, targets)
    except _Stale:
        return ("stale",)
    except BaseException as exc:  # whatever importing raised, SystemExit included
        return ("failed", f"a fresh process could not import {spec}: {_describe(exc)}")
    timeout = request["timeout"]
    arguments = dict(request["arguments"])
    labels = arguments.pop("labels")
    passes: list[list[list[int]]] = []
    try:
        state = pickle.loads(request["state"])
        sampler = calls.timed(
            functools.partial(target, labels, **arguments), timeout, "building the sampler"
        )
        batches = sampler
        if request["index_sampler"]:  # as SamplerAdapter batches a per-index sampler
            from torch.utils.data import BatchSampler

            batches = BatchSampler(sampler, arguments["batch_size"], drop_last=False)
        calls.timed(functools.partial(sampler.load_state_dict, state), timeout, "load_state_dict()")
        for epoch in request["epochs"]:
            if epoch is not None and callable(getattr(sampler, "set_epoch", None)):
                set_epoch = functools.partial(sampler.set_epoch, epoch)
                calls.timed(set_epoch, timeout, f"set_epoch({epoch})")
            what = f"the epoch {epoch} pass" if epoch is not None else "a pass without set_epoch"
            passes.append(calls.timed(functools.partial(_pass, batches), timeout, what))
    except calls.CallTimedOut as exc:
        return ("failed", f"in a fresh process, {exc}")
    except BaseException as exc:  # the sampler's failure is the finding, SystemExit included
        return ("failed", f"in a fresh process the sampler raised {_describe(exc)}")
    return ("ok", passes)


def _pass(batches: Any) -> list[list[int]]:
    """One pass, each batch as its positions by the kit's rule
    (:func:`~refsampler.conformance.positions.batch_positions`; a refused batch is empty, as
    the kit's own passes read it), so both processes read the same batches."""
    from .positions import batch_positions

    out = []
    for batch in batches:
        positions, _ = batch_positions(batch)
        out.append([] if positions is None else positions.tolist())
    return out


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
