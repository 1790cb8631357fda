"""Virtualenvs for the services, installed once and reused.

    venv = Venv(settings.keystone_venv, KEYSTONE_REQUIREMENTS, constraints)
    venv.ensure()          # no-op when the same pins are installed
    venv.bin("keystone-manage")

A venv is reused when its stamp file matches what would be installed now
(the pinned requirements, the constraints file's content and the base
Python's version). Otherwise, or after an install that broke off, it is
removed and built anew: venvs cannot be moved, so they are built in place
and the stamp is written last.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import time

from localcloud import procs
from localcloud.procs import log

STAMP = ".share_worker-cloud-stamp"


class Venv:
    def __init__(self, path: pathlib.Path, requirements: tuple[str, ...],
                 constraints: pathlib.Path | None = None) -> None:
        self.path = path
        self.requirements = requirements
        self.constraints = constraints
        self.python = os.environ.get("SHARE_WORKER_CLOUD_PYTHON", "python3")

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)

    def _wanted_stamp(self) -> str:
        version = subprocess.run(
            [self.python, "-c", "import sys; print(sys.version)"],
            check=True, capture_output=True, text=True).stdout.strip()
        constraints = ""
        if self.constraints is not None and self.constraints.exists():
            constraints = hashlib.sha256(
                self.constraints.read_bytes()).hexdigest()
        return json.dumps({"requirements": list(self.requirements),
                           "constraints": constraints,
                           "python": version}, sort_keys=True)

    def is_current(self) -> bool:
        stamp = self.path / STAMP
        return (stamp.exists() and (self.path / "bin" / "python").exists()
                and stamp.read_text() == self._wanted_stamp())

    def ensure(self) -> bool:
        """Install unless current; returns True when it installed."""
        if self.is_current():
            return False
        wanted = self._wanted_stamp()
        started = time.monotonic()
        log("installing %s into %s" % (" ".join(self.requirements),
                                       self.path))
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([self.python, "-m", "venv", str(self.path)],
                       check=True, env=procs.service_env())
        command = [self.bin("pip"), "install", "--disable-pip-version-check"]
        if self.constraints is not None and self.constraints.exists():
            command += ["-c", str(self.constraints)]
        # pip's output goes to a log beside the venv, shown when it fails.
        pip_log = self.path.parent / ("pip-%s.log" % self.path.name)
        with open(pip_log, "wb") as out:
            result = subprocess.run(command + list(self.requirements),
                                    stdout=out, stderr=subprocess.STDOUT,
                                    env=procs.service_env())
        if result.returncode:
            raise procs.CloudError("pip install into %s failed\n%s"
                                   % (self.path, procs.log_tail(pip_log)))
        (self.path / STAMP).write_text(wanted)
        log("installed %s in %.1f s" % (self.path.name,
                                        time.monotonic() - started))
        return True

    def exists(self) -> bool:
        return (self.path / "bin" / "python").exists()

    def run_json(self, script: pathlib.Path, request: dict,
                 log: pathlib.Path, *args: str) -> dict:
        """Run SCRIPT with this venv's Python: REQUEST as JSON on stdin
        (so passwords stay off command lines), JSON back on stdout, its
        stderr appended to LOG."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as err:
            result = subprocess.run(
                [self.bin("python"), str(script), *args],
                input=json.dumps(request).encode(), stdout=subprocess.PIPE,
                stderr=err, env=procs.service_env())
        if result.returncode:
            raise procs.CloudError("%s %s failed\n%s" % (
                script.name, " ".join(args), procs.log_tail(log)))
        return json.loads(result.stdout)
