"""Hand-made skops files, one per node kind, each carrying a side effect on load.

Every case names the node kind it abuses, builds its file in a scratch folder, and says
whether the side effect happened. Most carry one of three payloads: ``numpy.savetxt``
called as a constructor (writes a file), ``numpy.lib._datasource.DataSource`` restored
with a folder to delete when it is collected, or a module whose import writes a file.
"""

from __future__ import annotations

import importlib
import io
import itertools
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forgeml.project import Project

State = dict[str, Any]


@dataclass
class Gadget:
    kind: str  # the skops node kind the file abuses
    data: bytes
    happened: Callable[[], bool]  # whether the side effect took place


def node(kind: str, module: str, name: str, **fields: Any) -> State:
    return {"__loader__": kind, "__module__": module, "__class__": name, **fields}


def literal(value: Any) -> State:
    return node("JsonNode", "builtins", "str", content=json.dumps(value), is_json=True)


def items(kind: str, name: str, *values: State) -> State:
    return node(kind, "builtins", name, content=list(values))


def mapping(**values: State) -> State:
    keys = items("ListNode", "list", *(node("TypeNode", "builtins", "str") for _ in values))
    return node("DictNode", "builtins", "dict", content=values, key_types=keys)


def skops_file(schema: State, files: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in (files or {}).items():
            archive.writestr(name, data)
        archive.writestr("schema.json", json.dumps({**schema, "protocol": 2}))
    return out.getvalue()


def npy(value: Any) -> bytes:
    out = io.BytesIO()
    np.save(out, np.asarray(value), allow_pickle=False)
    return out.getvalue()


class Scratch:
    """The folder a case's side effects land in, and the payloads pointing into it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.written = root / "written.txt"
        self.made = root / "made"
        self.kept = root / "kept"
        self.kept.mkdir(parents=True)
        (self.kept / "data.csv").write_text("a,b\n")
        self.temp = root / "temp"
        self.temp.mkdir()

    def savetxt(self) -> State:
        """numpy.savetxt(path, [1.0]) as a 'constructor': writes ``written``."""
        args = items("TupleNode", "tuple", literal(str(self.written)), literal([1.0]))
        return node("ConstructorFromReduceNode", "numpy.lib._npyio_impl", "savetxt", content=args)

    def datasource(self, kind: str = "ObjectNode") -> State:
        """A DataSource whose collection deletes ``kept``."""
        attrs = mapping(_destpath=literal(str(self.kept)), _istmpdest=literal(True))
        return node(kind, "numpy.lib._datasource", "DataSource", content=attrs)

    def module(self, name: str) -> str:
        """A module on the path whose import writes ``written``; returns its name."""
        (self.root / f"{name}.py").write_text(
            f"with open({str(self.written)!r}, 'w') as f:\n    f.write('imported')\nvalue = 1\n"
        )
        importlib.invalidate_caches()
        return name

    def wrote(self) -> bool:
        return self.written.exists()

    def deleted(self) -> bool:
        import gc

        gc.collect()
        return not self.kept.exists()

    def made_folder(self) -> bool:
        return self.made.exists() or any(self.temp.iterdir())


def gadgets(scratch: Scratch, module: str) -> list[Gadget]:
    """One crafted file per skops node kind (module: a fresh, importable module name)."""
    s = scratch
    mkdir = node("NdArrayNode", "os", "mkdir", type="numpy", file="path.npy")
    mkdir_files = {"path.npy": npy(str(s.made).encode())}  # bytes: os.mkdir reads the buffer
    s.module(module)
    cached = dict(s.savetxt(), __id__=7)
    reduce_args = {"args": items("TupleNode", "tuple", s.savetxt()), "state": None}
    seed_seq = s.savetxt()
    return [
        Gadget("ConstructorFromReduceNode", skops_file(s.savetxt()), s.wrote),
        Gadget(
            "LossNode",
            skops_file(
                node(
                    "LossNode",
                    "numpy.lib._npyio_impl",
                    "savetxt",
                    __reduce__={
                        "args": items("TupleNode", "tuple", literal(str(s.written)), literal([1.0]))
                    },
                    content=mapping(),
                )
            ),
            s.wrote,
        ),
        Gadget(
            "TreeNode",
            skops_file(
                node(
                    "TreeNode",
                    "sklearn.tree._tree",
                    "Tree",
                    __reduce__=reduce_args,
                    content=mapping(),
                )
            ),
            s.wrote,
        ),
        Gadget(
            "QuantileForestNode",
            skops_file(
                node(
                    "QuantileForestNode",
                    "quantile_forest._quantile_forest_fast",
                    "QuantileForest",
                    __reduce__=reduce_args,
                    content=mapping(),
                )
            ),
            s.wrote,
        ),
        Gadget("ObjectNode", skops_file(s.datasource()), s.deleted),
        Gadget(
            "MethodNode",
            skops_file(
                node(
                    "MethodNode",
                    "numpy.lib._datasource",
                    "DataSource",
                    content={"func": "abspath", "obj": s.datasource()},
                )
            ),
            s.deleted,
        ),
        Gadget("FunctionNode", skops_file(node("FunctionNode", module, "value")), s.wrote),
        Gadget("TypeNode", skops_file(node("TypeNode", module, "value")), s.wrote),
        Gadget(
            "PartialNode",
            skops_file(
                node(
                    "PartialNode",
                    "functools",
                    "partial",
                    content={
                        "func": node("FunctionNode", "builtins", "len"),
                        "args": items("TupleNode", "tuple", s.savetxt()),
                        "kwds": mapping(),
                        "namespace": mapping(),
                    },
                )
            ),
            s.wrote,
        ),
        Gadget(
            "OperatorFuncNode",
            skops_file(
                node(
                    "OperatorFuncNode",
                    "operator",
                    "itemgetter",
                    attrs=items("TupleNode", "tuple", s.savetxt()),
                )
            ),
            s.wrote,
        ),
        Gadget("DictNode", skops_file(mapping(model=s.savetxt())), s.wrote),
        Gadget("ListNode", skops_file(items("ListNode", "list", s.savetxt())), s.wrote),
        Gadget("TupleNode", skops_file(items("TupleNode", "tuple", s.savetxt())), s.wrote),
        Gadget("SetNode", skops_file(items("SetNode", "set", s.savetxt())), s.wrote),
        Gadget(
            "DefaultDictNode",
            skops_file(
                node(
                    "DefaultDictNode",
                    "collections",
                    "defaultdict",
                    content={"main": mapping(), "default_factory": s.savetxt()},
                )
            ),
            s.wrote,
        ),
        Gadget(
            "CachedNode",
            skops_file(
                items(
                    "ListNode",
                    "list",
                    cached,
                    node("CachedNode", "numpy.lib._npyio_impl", "savetxt", __id__=7),
                )
            ),
            s.wrote,
        ),
        Gadget(
            "JsonNode",
            skops_file(node("JsonNode", "os", "system", content='"true"', is_json=True)),
            s.wrote,
        ),
        Gadget("NdArrayNode", skops_file(mkdir, mkdir_files), s.made_folder),
        Gadget(
            "DTypeNode",
            skops_file(node("DTypeNode", "numpy", "dtype", content=mkdir), mkdir_files),
            s.made_folder,
        ),
        Gadget(
            "MaskedArrayNode",
            skops_file(
                node(
                    "MaskedArrayNode",
                    "numpy.ma.core",
                    "MaskedArray",
                    content={"data": mkdir, "mask": mkdir},
                ),
                mkdir_files,
            ),
            s.made_folder,
        ),
        Gadget(
            "RandomStateNode",
            skops_file(node("RandomStateNode", "tempfile", "mkdtemp", content=literal(None))),
            s.made_folder,
        ),
        Gadget(
            "RandomGeneratorNode",
            skops_file(
                node(
                    "RandomGeneratorNode",
                    "numpy.random._generator",
                    "Generator",
                    content={
                        "bit_generator": node(
                            "DictNode",
                            "builtins",
                            "dict",
                            content={"bit_generator": literal("PCG64")},
                            key_types=items(
                                "ListNode", "list", node("TypeNode", "builtins", "str")
                            ),
                        ),
                        "seed_seq": seed_seq,
                    },
                )
            ),
            s.wrote,
        ),
        Gadget(
            "SparseMatrixNode",
            skops_file(
                node("SparseMatrixNode", "os", "system", type="scipy", file="m.npz"),
                {"m.npz": b""},
            ),
            s.wrote,
        ),
        Gadget(
            "BytesNode",
            skops_file(node("BytesNode", "os", "system", file="b.bin"), {"b.bin": b"true"}),
            s.wrote,
        ),
        Gadget(
            "BytearrayNode",
            skops_file(node("BytearrayNode", "os", "system", file="b.bin"), {"b.bin": b"true"}),
            s.wrote,
        ),
        Gadget(
            "SliceNode",
            skops_file(
                node("SliceNode", "os", "system", content={"start": 1, "stop": 2, "step": 1})
            ),
            s.wrote,
        ),
    ]


_modules = itertools.count()


def gadget_of(scratch: Scratch, kind: str) -> Gadget:
    """The gadget abusing node ``kind``, with a module name no test has imported."""
    by_kind = {g.kind: g for g in gadgets(scratch, f"forgeml_gadget_{next(_modules)}")}
    return by_kind[kind]


def plant_version(
    project: Project, name: str, bundle_sha: str, signature: dict[str, Any], alias: str
) -> int:
    """Record a version straight in the store, as someone with write access to it could."""
    from forgeml.registry.bundle import read_manifest
    from forgeml.store import registry as queries

    shas = [bundle_sha, *read_manifest(bundle_sha, project.artifacts)["parts"].values()]
    artifacts = [(sha, project.artifacts.size(sha), "model/part") for sha in shas]
    with project.store.write() as session:
        record = queries.add_version(
            session,
            name=name,
            flavor="sklearn",
            artifact_sha256=bundle_sha,
            signature=signature,
            metrics={},
            lineage={},
            card_sha256=None,
            run_id=None,
            created_by="someone",
            artifacts=artifacts,
        )
        model = queries.get_model(session, name, lock=True)
        queries.set_alias(session, model, alias, record)
        return int(record.version)
