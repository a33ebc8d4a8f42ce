"""A fork server for tests that start many entrypoint processes (the reproduce smoke test: ~50).

Importing jax, flax, orbax and the package takes ~2 s of every `python -m experiments.X`; the
server pays it once. `python tests/forkserver.py SOCKET` imports every entrypoint (no JAX backend
starts on import, so forking is safe), then for each request forks a child that runs the command
as `python` would: `-m MODULE ARGS` through runpy.run_module, `SCRIPT ARGS` through
runpy.run_path, with the client's argv, working directory, environment and standard streams.
Each child is a fresh process from the server's imports on: nothing computed or compiled in one
child is seen by the next (the persistent compilation cache, a file cache, is shared as between
separate processes). JAX reads its environment variables (the compilation cache directory among
them) on import, so the server's environment at start, not a request's, fixes them. The client,

  python -S tests/forkserver.py --client SOCKET -m experiments.sft --config ...

stands in for `python` where a script takes the interpreter as a command (reproduce.sh's PY):
it passes its stdin, stdout and stderr to the child and exits with the child's status.
"""

from __future__ import annotations

import json
import os
import socket
import sys

_SEPARATOR = b"\0"


def client(path: str, argv: list[str]) -> int:
  request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
  with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
    sock.connect(path)
    socket.send_fds(sock, [request + _SEPARATOR], [0, 1, 2])
    reply = sock.recv(64)
  return int(reply) if reply else 1


def _preload() -> None:
  """Everything an entrypoint or script imports that is slow to import."""
  import importlib
  import pkgutil

  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot  # noqa: F401
  import scipy.optimize  # noqa: F401

  import experiments
  for module in pkgutil.iter_modules(experiments.__path__):
    importlib.import_module(f"experiments.{module.name}")
  from reasoning import curves, scaling  # noqa: F401
  from jax._src import xla_bridge
  assert not xla_bridge._backends, "a JAX backend started on import: forking would be unsafe"


def _run_child(request: dict, fds: list[int]) -> None:
  """In the forked child: the request's streams, directory and environment, then the command.
  Never returns."""
  import atexit
  import runpy
  import traceback
  code = 1
  try:
    for target, fd in enumerate(fds):
      os.dup2(fd, target)
      os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = request["argv"]
    if argv[:1] == ["-m"]:
      sys.argv = [argv[1], *argv[2:]]
      sys.path[0] = request["cwd"]
      sys.modules.pop(argv[1], None)  # preloaded; run as __main__ the way `python -m` runs it
      runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
      sys.argv = list(argv)
      sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
      runpy.run_path(argv[0], run_name="__main__")
    code = 0
  except SystemExit as e:
    if e.code is None or isinstance(e.code, int):
      code = e.code or 0
    else:
      print(e.code, file=sys.stderr)
  except BaseException:
    traceback.print_exc()
  finally:
    try:
      atexit._run_exitfuncs()
      sys.stdout.flush()
      sys.stderr.flush()
    finally:
      os._exit(code)


def _handle(conn: socket.socket) -> None:
  """In a handler process, one per request: fork the child that runs the command, wait for it
  and send back its exit status. Never returns."""
  message, fds, _, _ = socket.recv_fds(conn, 1 << 22, 3)
  while not message.endswith(_SEPARATOR):
    message += conn.recv(1 << 22)
  pid = os.fork()
  if pid == 0:
    conn.close()
    _run_child(json.loads(message[:-1]), fds)
  for fd in fds:
    os.close(fd)
  _, status = os.waitpid(pid, 0)
  conn.sendall(str(os.waitstatus_to_exitcode(status) & 0xFF).encode())
  os._exit(0)


def serve(path: str) -> None:
  """Serves requests concurrently (a command may start others through the client, as
  recipe_sweep.py does): each is handled in a process of its own."""
  import signal
  _preload()
  signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped by the kernel
  with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
    server.bind(path)
    server.listen()
    print("ready", flush=True)
    while True:
      conn, _ = server.accept()
      sys.stdout.flush()
      sys.stderr.flush()
      if os.fork() == 0:
        try:
          server.close()
          signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the handler waits for its child
          _handle(conn)
        finally:
          os._exit(1)
      conn.close()


if __name__ == "__main__":
  if sys.argv[1] == "--client":
    sys.exit(client(sys.argv[2], sys.argv[3:]))
  sys.path[0] = os.getcwd()  # the repository root, as for `python -m`
  serve(sys.argv[1])
