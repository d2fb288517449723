"""Where the running embedded hub is, for the ops commands in another terminal.

`knutepunkt up` gives its embedded Redis a free port and makes staff tokens unless it is
given some, so `knutepunkt status` or `knutepunkt demo` started in another terminal could
not know either. Once the hub is ready the launcher writes them, with the services'
addresses, to `hub.env` in its data folder (readable by its owner only: it holds the staff
tokens), and removes the file when the hub stops. The ops commands take from it what their
environment does not say. A file left by a launcher that was killed names a process that is
gone, and is not read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

FILE_NAME = "hub.env"
# The launcher's own data folder, and where the ops commands look for its file.
VAR_DIR_VARIABLE = "KNUTEPUNKT_VAR_DIR"
DEFAULT_VAR_DIR = Path("var")
_LAUNCHER_PID = "KNUTEPUNKT_LAUNCHER_PID"


def var_dir_of(environ: Mapping[str, str]) -> Path:
    return Path(environ.get(VAR_DIR_VARIABLE) or DEFAULT_VAR_DIR)


def write(var_dir: Path, values: Mapping[str, str], pid: int) -> Path:
    """`values` (NAME=value, as the environment would give them) for the hub launched by
    process `pid`; replaced whole, so a reader never sees half a file."""
    lines = [f"{_LAUNCHER_PID}={pid}", *(f"{name}={value}" for name, value in values.items())]
    if any("\n" in line for line in lines):
        raise ValueError("a value of the hub's file has a line break")
    path = var_dir / FILE_NAME
    partial = path.with_name(f".{FILE_NAME}.{pid}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(partial, path)
    return path


def remove(var_dir: Path, pid: int) -> None:
    """The file, if it is this launcher's (another hub may have taken the folder since)."""
    path = var_dir / FILE_NAME
    if _values(path).get(_LAUNCHER_PID) == str(pid):
        path.unlink(missing_ok=True)


def read(var_dir: Path) -> dict[str, str]:
    """The running hub's values; none when there is no file or its launcher is gone."""
    values = _values(var_dir / FILE_NAME)
    pid = values.pop(_LAUNCHER_PID, "")
    if not pid.isdigit() or not _alive(int(pid)):
        return {}
    return values


def _values(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {name: value for name, value in pairs}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        pass
    return True
