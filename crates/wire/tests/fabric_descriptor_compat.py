#!/usr/bin/env python3
"""Compare Cambium's compiled protobuf descriptors with Fabric's.

Usage: fabric_descriptor_compat.py CAMBIUM_DESCRIPTOR_SET

CAMBIUM_DESCRIPTOR_SET is a serialized google.protobuf.FileDescriptorSet (cambium-wire's
FILE_DESCRIPTOR_SET). Fabric's descriptors come from PyPI's `hyperledger-fabric-protos`.
For every message, enum and service Cambium defines (except google.* packages, and Cambium's
own extension packages cambium.*, which Fabric does not have and which are skipped explicitly,
with a count in the report), the same full
name must exist in Fabric with identical field numbers, names, types, labels, type names and
oneof membership, identical enum values and identical RPC signatures. Every mismatch is printed;
the exit status is 1 if there was any, 2 if the Fabric package is missing.
"""

import importlib
import pkgutil
import sys

try:
    from google.protobuf import descriptor_pb2
except ImportError:
    print("python protobuf is missing: run `pip install --pre hyperledger-fabric-protos`")
    sys.exit(2)

try:
    import fabric_protos
except ImportError:
    print("Fabric's descriptors are missing: run `pip install --pre hyperledger-fabric-protos`")
    sys.exit(2)

FDP = descriptor_pb2.FieldDescriptorProto


def collect(file_proto, messages, enums, services):
    """Index a FileDescriptorProto's messages, enums and services by full name."""
    prefix = "." + file_proto.package if file_proto.package else ""

    def walk_message(msg, scope):
        name = f"{scope}.{msg.name}"
        messages[name] = msg
        for enum in msg.enum_type:
            enums[f"{name}.{enum.name}"] = enum
        for nested in msg.nested_type:
            walk_message(nested, name)

    for msg in file_proto.message_type:
        walk_message(msg, prefix)
    for enum in file_proto.enum_type:
        enums[f"{prefix}.{enum.name}"] = enum
    for svc in file_proto.service:
        services[f"{prefix}.{svc.name}"] = svc


def fabric_index():
    messages, enums, services = {}, {}, {}
    for mod in pkgutil.walk_packages(fabric_protos.__path__, fabric_protos.__name__ + "."):
        if not mod.name.endswith("_pb2"):
            continue
        module = importlib.import_module(mod.name)
        file_proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(file_proto)
        collect(file_proto, messages, enums, services)
    return messages, enums, services


def field_summary(msg, field):
    oneof = msg.oneof_decl[field.oneof_index].name if field.HasField("oneof_index") else None
    return {
        "name": field.name,
        "type": FDP.Type.Name(field.type),
        "label": FDP.Label.Name(field.label),
        "type_name": field.type_name,
        "oneof": oneof,
    }


def compare_message(name, ours, theirs, errors):
    our_fields = {f.number: f for f in ours.field}
    their_fields = {f.number: f for f in theirs.field}
    for number in sorted(set(our_fields) | set(their_fields)):
        if number not in their_fields:
            errors.append(f"{name}: field {number} ({our_fields[number].name}) is not in Fabric")
            continue
        if number not in our_fields:
            errors.append(f"{name}: Fabric's field {number} ({their_fields[number].name}) is missing")
            continue
        a = field_summary(ours, our_fields[number])
        b = field_summary(theirs, their_fields[number])
        for key in a:
            if a[key] != b[key]:
                errors.append(f"{name}: field {number} {key} is {a[key]!r}, Fabric has {b[key]!r}")
    if ours.options.map_entry != theirs.options.map_entry:
        errors.append(f"{name}: map_entry differs")


def compare_enum(name, ours, theirs, errors):
    a = {v.name: v.number for v in ours.value}
    b = {v.name: v.number for v in theirs.value}
    if a != b:
        errors.append(f"{name}: values {sorted(a.items(), key=lambda x: x[1])} != Fabric's "
                      f"{sorted(b.items(), key=lambda x: x[1])}")


def compare_service(name, ours, theirs, errors):
    def sig(svc):
        return {m.name: (m.input_type, m.output_type, m.client_streaming, m.server_streaming)
                for m in svc.method}
    a, b = sig(ours), sig(theirs)
    for method in sorted(set(a) | set(b)):
        if a.get(method) != b.get(method):
            errors.append(f"{name}/{method}: {a.get(method)} != Fabric's {b.get(method)}")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    with open(sys.argv[1], "rb") as handle:
        ours_set = descriptor_pb2.FileDescriptorSet.FromString(handle.read())
    our_messages, our_enums, our_services = {}, {}, {}
    cambium_files = []
    for file_proto in ours_set.file:
        if file_proto.package.startswith("google."):
            continue
        if file_proto.package == "cambium" or file_proto.package.startswith("cambium."):
            # Cambium's own extension messages: not part of Fabric, nothing to compare.
            cambium_files.append(file_proto.name)
            continue
        collect(file_proto, our_messages, our_enums, our_services)
    their_messages, their_enums, their_services = fabric_index()

    errors = []
    for kind, ours, theirs, compare in (
        ("message", our_messages, their_messages, compare_message),
        ("enum", our_enums, their_enums, compare_enum),
        ("service", our_services, their_services, compare_service),
    ):
        for name in sorted(ours):
            if name not in theirs:
                errors.append(f"{kind} {name} is not defined by Fabric")
                continue
            compare(name, ours[name], theirs[name], errors)

    for error in errors:
        print(error)
    checked = len(our_messages) + len(our_enums) + len(our_services)
    if cambium_files:
        print(f"skipped Cambium extension files (package cambium.*): {', '.join(sorted(cambium_files))}")
    print(f"checked {len(our_messages)} messages, {len(our_enums)} enums, "
          f"{len(our_services)} services: {len(errors)} mismatches")
    return 1 if errors or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
