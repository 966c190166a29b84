"""The code blocks of README.md and docs/*.md run as tests (pytest-markdown-docs).

Each runs in a fresh folder of its own, on the embedded stores, one thread per library. A
block marked ```` ```python notest ```` is shown but not run (it needs a server or cloud
credentials); ```` ```python continuation ```` continues the block before it.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
from pytest_markdown_docs.plugin import MarkdownTextFile
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent
PAGES = (ROOT / "README.md", ROOT / "docs")

CREDIT_SPEC = """\
project: credit
train:
  dataset: credit
  target: defaulted
  exclude: [customer_id, month]
  budget: {trials: 2}
"""


# The Airflow provider's modules import Airflow: their doctests run in the Airflow test venv.
collect_ignore_glob = (
    ["src/forgeml/integrations/airflow/hooks.py", "src/forgeml/integrations/airflow/operators.py"]
    if importlib.util.find_spec("airflow") is None
    else []
)
if importlib.util.find_spec("ray") is None:  # Ray Data's source for scoring imports Ray
    collect_ignore_glob.append("src/forgeml/serve/batch_ray_source.py")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    pages = (PAGES[1], PAGES[1] / "byo")  # the guides, and one page per framework
    runs = file_path == PAGES[0] or (file_path.suffix == ".md" and file_path.parent in pages)
    if runs and not parent.config.option.markdowndocs:  # --markdown-docs collects them itself
        return MarkdownTextFile.from_parent(parent, path=file_path)
    return None


@pytest.fixture(autouse=True)
def _pages_run_in_a_scratch_folder(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    if request.node.get_closest_marker("markdown-docs") is None:
        yield
        return
    monkeypatch.chdir(request.getfixturevalue("tmp_path"))
    for name in ("FORGEML_PROJECT", "FORGEML_DB_URL", "FORGEML_ARTIFACTS_URL"):
        monkeypatch.delenv(name, raising=False)
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def _credit_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project the pages walk through: January's applications ingested from
    ``data/2024-01.csv`` as ``credit@1`` and a model trained on them as ``credit@champion``;
    February's applications, without outcomes, in ``applications.parquet``."""
    import forgeml
    from forgeml.demo.credit import generate_credit

    root = tmp_path_factory.mktemp("pages") / "credit"
    root.mkdir()
    (root / "forgeml.yaml").write_text(CREDIT_SPEC, encoding="utf-8")
    (root / "data").mkdir()
    table = generate_credit(rows_per_month=400, months=2, seed=1)
    january = table.filter(pc.equal(table.column("month"), 1))
    pyarrow.csv.write_csv(january, root / "data" / "2024-01.csv")
    pq.write_table(january, root / "data" / "2024-01.parquet")
    february = table.filter(pc.equal(table.column("month"), 2))
    pq.write_table(february.drop_columns(["defaulted"]), root / "applications.parquet")
    with threadpool_limits(limits=1), forgeml.init(str(root)) as project:
        forgeml.ingest(root / "data" / "2024-01.csv", name="credit", project=project)
        forgeml.train(project=project)
    return root


def _copy_of(template: Path, folder: Path) -> Path:
    copy = folder / template.name
    shutil.copytree(template, copy)
    return copy


@pytest.fixture
def credit(_credit_template: Path, _pages_run_in_a_scratch_folder: None, tmp_path: Path) -> Path:
    """A copy of the walked-through project in ``credit/`` under the current folder."""
    return _copy_of(_credit_template, tmp_path)


@pytest.fixture
def in_credit(credit: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The same, with the project folder as the current folder."""
    monkeypatch.chdir(credit)
    return credit
