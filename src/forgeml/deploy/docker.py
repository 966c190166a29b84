"""``forgeml build docker MODEL@V OUT/``: a small Docker build context for one model version.

The context holds the model directory (``model/``), a lock file of exactly the packages
serving this model needs (``requirements.lock``, every one pinned, installed without
resolving anything else), a multi-stage ``Dockerfile`` and a ``.dockerignore``::

    build stage:   python:3.11-slim + a virtual environment with the locked packages,
                   compiled to bytecode (pip's default), so a container that starts never
                   compiles them again (it writes no bytecode itself)
    final stage:   python:3.11-slim + that environment + the model at /opt/ml/model,
                   a non-root user (root for the SageMaker profile, which requires it),
                   HEALTHCHECK on /ready, exec-form ENTRYPOINT ``forgeml serve --model-dir``

Nothing here needs a Docker engine; ``docker build OUT/`` does the rest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from forgeml.deploy.modeldir import ModelDir, class_distribution, model_roots, write_model_dir
from forgeml.deploy.requirements import forgeml_requirement, locked, server_packages
from forgeml.deploy.staging import empty_target, staged
from forgeml.errors import ConfigError
from forgeml.project import ProjectLike

__all__ = ["DEFAULT_BASE_IMAGE", "PORT", "DockerContext", "build_context", "dockerfile"]

DEFAULT_BASE_IMAGE = "python:3.11-slim"
PORT = 8080
MODEL_PATH = "/opt/ml/model"
USER_ID = 10001
PROFILES = ("default", "sagemaker", "vertex", "azureml")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
"""Where a lock's CPU build of PyTorch (``torch==X+cpu``) installs from."""


@dataclass(frozen=True)
class DockerContext:
    path: Path
    model: ModelDir
    lock: list[str]

    def size(self) -> int:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())


def build_context(
    ref: str,
    out: str | os.PathLike[str],
    *,
    base_image: str = DEFAULT_BASE_IMAGE,
    profile: str = "default",
    project: ProjectLike = None,
) -> DockerContext:
    """Write the build context for ``ref`` into ``out`` (new or empty)."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}", fix=f"use one of: {', '.join(PROFILES)}")
    if not base_image or any(c.isspace() for c in base_image):
        raise ConfigError(
            f"base image {base_image!r} is not an image reference",
            fix="pass --base-image like python:3.11-slim",
        )
    target = empty_target(out, what="build context")
    with staged(target) as staging:
        found = write_model_dir(ref, staging / "model", project=project)
        python_class = found.manifest.get("python_class")
        _refuse_unlocked_class(found, python_class)
        calibrated = "calibrator" in found.manifest["files"]
        lock = lock_for(found.flavor, calibrated=calibrated, python_class=python_class)
        (staging / "requirements.lock").write_text("\n".join(lock) + "\n")
        extra_index = TORCH_CPU_INDEX if any("+cpu" in line for line in lock) else None
        text = dockerfile(base_image, profile, found.ref, extra_index=extra_index)
        (staging / "Dockerfile").write_text(text)
        (staging / ".dockerignore").write_text(DOCKERIGNORE)
    return DockerContext(target, ModelDir(target / "model", found.manifest), lock)


def lock_for(
    flavor: str, *, calibrated: bool = False, python_class: str | None = None
) -> list[str]:
    """Every package serving a model of ``flavor`` needs, pinned, closed over requirements."""
    roots = model_roots(flavor, calibrated=calibrated, python_class=python_class)
    packages = locked([*roots, *server_packages()])
    return [forgeml_requirement(), *packages]


def _refuse_unlocked_class(found: ModelDir, python_class: str | None) -> None:
    """A PyTorch module's class must come with the image: forgeml's, or a locked package."""
    if python_class is None or python_class.startswith("forgeml."):
        return
    if class_distribution(python_class) is None:
        raise ConfigError(
            f"{found.ref} is a torch model whose class {python_class} comes from no "
            "installed package, so a Docker image could not import it to rebuild the model",
            fix="install the package that defines it here (pip install -e . in its "
            "project) so the lock holds it; or export the model to ONNX (forgeml export "
            "MODEL@V --format onnx), log that file, and build the image from the ONNX version",
        )


DOCKERIGNORE = """\
# only the model, the lock file and the Dockerfile are sent to the engine
*
!Dockerfile
!requirements.lock
!model/
"""


def dockerfile(base_image: str, profile: str, ref: str, *, extra_index: str | None = None) -> str:
    """The multi-stage Dockerfile (exec-form ENTRYPOINT, HEALTHCHECK, non-root user);
    ``extra_index`` is a second package index the lock's packages install from."""
    index = f"--extra-index-url {extra_index} " if extra_index else ""
    root = profile == "sagemaker"  # SageMaker runs the container as root
    user = (
        ""
        if root
        else (
            f"RUN useradd --system --uid {USER_ID} --no-create-home --shell /usr/sbin/nologin "
            "forgeml\n"
        )
    )
    owner = "" if root else f"--chown={USER_ID}:{USER_ID} "
    switch = "" if root else f"USER {USER_ID}\n"
    args = ["forgeml", "serve", "--model-dir", MODEL_PATH, "--host", "0.0.0.0"]
    args += ["--port", str(PORT)]
    if profile != "default":
        args += ["--profile", profile]
    entry = ", ".join(f'"{a}"' for a in args)
    probe = (
        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/ready', timeout=2)"
    )
    return f"""\
# syntax=docker/dockerfile:1
# forgeml model {ref} ({profile} profile)
FROM {base_image} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.lock /tmp/requirements.lock
RUN python -m venv /opt/venv \\
    && /opt/venv/bin/pip install --no-deps {index}-r /tmp/requirements.lock

FROM {base_image}
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
{user}COPY --from=build /opt/venv /opt/venv
COPY {owner}model {MODEL_PATH}
{switch}EXPOSE {PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \\
    CMD ["python", "-c", "{probe}"]
ENTRYPOINT [{entry}]
"""
