"""JSON Schemas of the official OpenAPI specs that client packages ship as generated models.

KServe's ``kserve`` package and Argo's ``argo-workflows`` package are generated from their
projects' OpenAPI specs: each model class keeps the spec's field names (``attribute_map``),
field types (``openapi_types``) and required fields. ``MODELS_SCRIPT`` runs in the package's
own venv and reads those tables back; :func:`json_schema` turns them into a strict JSON
Schema: an unknown field, a wrong type or a missing required field fails, as Kubernetes'
strict field validation (``kubectl apply --validate=strict``) would refuse them. Types that
a model names but its package does not define (Kubernetes' own, for KServe) resolve to
Kubernetes' strict schemas from ``kubernetes-validate``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from toolvenvs import run_in

MODELS_SCRIPT = r"""
import datetime, importlib, inspect, json, re, sys

models = importlib.import_module(sys.argv[1])
PRIMITIVE = {str: "str", int: "int", float: "float", bool: "bool",
             datetime.datetime: "datetime", datetime.date: "date",
             dict: "dict(str, object)", list: "list[object]"}
WORDS = {"list", "dict", "str", "int", "float", "bool", "object", "datetime", "date"}


def type_name(t):
    # new-style generators give tuples of classes; the legacy one gives strings
    if isinstance(t, str):
        return t
    if isinstance(t, tuple):
        return "object" if len(t) > 1 else type_name(t[0])
    if isinstance(t, list):
        return "list[%s]" % type_name(t[0])
    if isinstance(t, dict):
        (value,) = t.values()
        return "dict(str, %s)" % type_name(value)
    if t in PRIMITIVE:
        return PRIMITIVE[t]
    if any(c.__name__ == "ModelSimple" for c in t.__mro__):
        return type_name(t.openapi_types["value"])
    return t.__name__


class Config:
    client_side_validation = True


def required(cls):
    if hasattr(cls, "_from_openapi_data"):  # new style: required fields are positional
        parameters = inspect.signature(cls._from_openapi_data).parameters.values()
        return [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    found = []  # legacy style: the setter of a required field refuses None
    for name in cls.openapi_types:
        instance = cls.__new__(cls)
        instance.local_vars_configuration = Config()
        try:
            setattr(instance, name, None)
        except ValueError as error:
            if "must not be `None`" in str(error):
                found.append(name)
    return found


tables, external, todo = {}, [], [sys.argv[2]]
while todo:
    name = todo.pop()
    cls = getattr(models, name, None)
    if name in tables or name in external:
        continue
    if cls is None:
        external.append(name)
        continue
    names = cls.attribute_map
    types = {names[k]: type_name(t) for k, t in cls.openapi_types.items()}
    enums = {names[k[0]]: sorted(v.values())
             for k, v in getattr(cls, "allowed_values", {}).items()}
    tables[name] = {"properties": types, "required": [names[k] for k in required(cls)],
                    "enums": enums}
    for t in types.values():
        todo += [w for w in re.findall(r"[A-Za-z_]\w*", t) if w not in WORDS]
print(json.dumps({"root": sys.argv[2], "models": tables, "external": sorted(external)}))
"""

PRIMITIVES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "datetime": {"type": "string"},
    "date": {"type": "string"},
    "object": {},  # the spec leaves it open (free-form fields, int-or-string)
}
K8S_DEFINITIONS = "https://kubernetes.io/api/_definitions.json"


def model_tables(python: Path, module: str, root: str) -> dict[str, Any]:
    """The field tables of ``root`` and every model it reaches, read by ``python``."""
    done = run_in(python, MODELS_SCRIPT, module, root)
    assert done.returncode == 0, done.stderr[-4000:]
    return dict(json.loads(done.stdout))


def json_schema(
    tables: dict[str, Any], external: Callable[[str], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A strict JSON Schema for ``tables``' root model; ``external`` gives the schema of a
    type the tables name but do not define."""

    def field(type_name: str) -> dict[str, Any]:
        type_name = type_name.strip()
        if found := re.fullmatch(r"(?:list|List)\[(.*)\]", type_name):
            return {"type": "array", "items": field(found[1])}
        if found := re.fullmatch(r"(?:dict\(str, (.*)\)|Dict\[str, (.*)\])", type_name):
            return {"type": "object", "additionalProperties": field(found[1] or found[2])}
        if type_name in PRIMITIVES:
            return PRIMITIVES[type_name]
        if type_name in tables["models"]:
            return {"$ref": f"#/$defs/{type_name}"}
        if external is None:
            raise AssertionError(f"no schema for {type_name}")
        return external(type_name)

    definitions = {}
    for name, table in tables["models"].items():
        properties = {key: field(t) for key, t in table["properties"].items()}
        for key, values in table["enums"].items():
            properties[key] = {**properties[key], "enum": values}
        definitions[name] = {
            "type": "object",
            "properties": properties,
            "required": table["required"],
            "additionalProperties": False,
        }
    return {"$ref": f"#/$defs/{tables['root']}", "$defs": definitions}


def kubernetes_type(version: str) -> Callable[[str], dict[str, Any]]:
    """The reference to a Kubernetes type named as the Python client names it
    (``V1Container``, ``K8sIoApiAppsV1DeploymentStrategy``) in Kubernetes ``version``'s
    strict definitions."""
    known = set(_kubernetes_definitions(version)["$defs"])

    def ref(type_name: str) -> dict[str, Any]:
        if found := re.fullmatch(r"K8sIoApi([A-Z][a-z]+)(V\w+?)([A-Z]\w*)", type_name):
            group, api, kind = found[1].lower(), found[2].lower(), found[3]
            candidates = [f"io.k8s.api.{group}.{api}.{kind}"]
        elif found := re.fullmatch(r"(V\d\w*?)([A-Z]\w*)", type_name):
            api, kind = found[1].lower(), found[2]
            candidates = [
                f"io.k8s.api.core.{api}.{kind}",
                f"io.k8s.apimachinery.pkg.apis.meta.{api}.{kind}",
            ]
        elif type_name == "ResourceQuantity":
            candidates = ["io.k8s.apimachinery.pkg.api.resource.Quantity"]
        else:
            candidates = []
        for key in candidates:
            if key in known:
                return {"$ref": f"{K8S_DEFINITIONS}#/$defs/{key}"}
        # nothing validates against it, and the error names the missing type
        return {"const": f"({type_name}: not in Kubernetes {version})"}

    return ref


def validator(schema: dict[str, Any], kubernetes: str | None = None) -> jsonschema.Validator:
    """A Draft 2020-12 validator for ``schema``; Kubernetes ``kubernetes``'s strict
    definitions resolve its references to Kubernetes types."""
    registry: Registry[Any] = Registry()
    if kubernetes:
        definitions = Resource.from_contents(_kubernetes_definitions(kubernetes))
        registry = definitions @ registry
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def errors(check: jsonschema.Validator, document: dict[str, Any]) -> list[str]:
    """Each error as ``path: message``, the path in the document's own keys."""
    found = sorted(check.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in found]


REMOVED = object()


def errors_when(
    check: jsonschema.Validator, document: dict[str, Any], path: str, value: object
) -> list[str]:
    """:func:`errors` of a copy of ``document`` whose field at the dotted ``path`` (list
    items by index) is ``value``, or is gone when ``value`` is :data:`REMOVED`."""
    changed = copy.deepcopy(document)
    *parents, last = path.split(".")
    node: Any = changed
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if value is REMOVED:
        del node[last]
    else:
        node[last] = value
    return errors(check, changed)


def _kubernetes_definitions(version: str) -> dict[str, Any]:
    folder = f"kubernetes-json-schema/v{version}.0-local-strict"
    text = resources.files("kubernetes_validate").joinpath(folder, "_definitions.json")
    return dict(json.loads(text.read_text()))
