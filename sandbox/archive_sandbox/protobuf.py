"""Just enough of Kubernetes' protobuf encoding to accept what kubectl's typed clients send.

`kubectl create namespace|configmap|secret` POST protobuf bodies and do not fall back to JSON;
helm stores releases in Secrets and deletes them with protobuf DeleteOptions. This decodes the
`k8s\\0` envelope and those kinds (object metadata included); any other protobuf body gets 415
(use `kubectl create -f` / `apply`, which send JSON). See README.
"""

from __future__ import annotations

import base64
from typing import Any

from .errors import ApiError

MAGIC = b"k8s\x00"

# message name -> field number -> (json name, type); types: str, bytes, int, bool, msg:<name>,
# map (string->string), bmap (string->bytes), and a leading "*" for repeated fields.
SCHEMAS: dict[str, dict[int, tuple[str, str]]] = {
    "Unknown": {
        1: ("typeMeta", "msg:TypeMeta"),
        2: ("raw", "bytes"),
        3: ("contentEncoding", "str"),
        4: ("contentType", "str"),
    },
    "TypeMeta": {1: ("apiVersion", "str"), 2: ("kind", "str")},
    "ObjectMeta": {
        1: ("name", "str"),
        2: ("generateName", "str"),
        3: ("namespace", "str"),
        6: ("resourceVersion", "str"),
        11: ("labels", "map"),
        12: ("annotations", "map"),
        13: ("ownerReferences", "*msg:OwnerReference"),
        14: ("finalizers", "*str"),
    },
    "OwnerReference": {
        1: ("kind", "str"),
        3: ("name", "str"),
        4: ("uid", "str"),
        5: ("apiVersion", "str"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "Namespace": {1: ("metadata", "msg:ObjectMeta"), 2: ("spec", "msg:NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "*str")},
    "ConfigMap": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("data", "map"),
        3: ("binaryData", "bmap"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "msg:ObjectMeta"),
        2: ("data", "bmap"),
        3: ("type", "str"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int"),
        2: ("preconditions", "msg:Preconditions"),
        3: ("orphanDependents", "bool"),
        4: ("propagationPolicy", "str"),
        5: ("dryRun", "*str"),
    },
    "Preconditions": {1: ("uid", "str"), 2: ("resourceVersion", "str")},
}
SUPPORTED_KINDS = ("Namespace", "ConfigMap", "Secret", "DeleteOptions")


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((number, value))
        elif wire == 2:
            length, pos = _varint(buf, pos)
            out.append((number, buf[pos : pos + length]))
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def _decode(buf: bytes, message: str) -> dict[str, Any]:
    schema = SCHEMAS[message]
    obj: dict[str, Any] = {}
    for number, raw in _fields(buf):
        if number not in schema:
            continue
        name, kind = schema[number]
        repeated = kind.startswith("*")
        kind = kind.lstrip("*")
        value: Any
        if kind in ("map", "bmap"):
            entry = dict(_fields(raw if isinstance(raw, bytes) else b""))
            key = entry.get(1, b"")
            val = entry.get(2, b"")
            assert isinstance(key, bytes) and isinstance(val, bytes)
            text = base64.b64encode(val).decode() if kind == "bmap" else val.decode()
            obj.setdefault(name, {})[key.decode()] = text
            continue
        if kind == "str":
            value = raw.decode() if isinstance(raw, bytes) else str(raw)
        elif kind == "bytes":
            value = raw
        elif kind == "bool":
            value = bool(raw)
        elif kind.startswith("msg:"):
            value = _decode(raw if isinstance(raw, bytes) else b"", kind[4:])
        else:
            value = raw
        if repeated:
            obj.setdefault(name, []).append(value)
        elif value not in ("", {}, b""):
            obj[name] = value
    return obj


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded Namespace, ConfigMap or Secret as the JSON object it stands for."""
    if not body.startswith(MAGIC):
        raise ApiError(
            400, "BadRequest", "the protobuf body does not start with the Kubernetes envelope"
        )
    try:
        envelope = _decode(body[len(MAGIC) :], "Unknown")
        type_meta = envelope.get("typeMeta", {})
        kind = type_meta.get("kind", "")
        if kind not in SUPPORTED_KINDS:
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the sandbox cannot decode protobuf {kind or 'objects'}; send JSON "
                "(e.g. kubectl create -f / kubectl apply) - accepted media types include: "
                "application/json",
            )
        obj = _decode(envelope.get("raw", b""), kind)
    except (IndexError, ValueError, AssertionError) as e:
        raise ApiError(400, "BadRequest", f"the request body could not be decoded: {e}") from None
    return {"apiVersion": type_meta.get("apiVersion", "v1"), "kind": kind, **obj}
