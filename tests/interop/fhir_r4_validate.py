"""Validates every FHIR resource the simulator writes with the PyPI package fhir.resources
(pydantic models generated from the FHIR specification's StructureDefinitions): required
elements (cardinality 1..), element types, primitive formats (dates, instants, codes, ids)
and choice types. The models are FHIR R4B's, which for the resources the simulator writes
(Organization, Practitioner, PractitionerRole, Patient, Encounter, CareTeam,
Appointment, ServiceRequest, AuditEvent)
define the same elements as R4. Exit status 0 when every resource validates; the first
problems otherwise.

Run by crates/simulate/tests/interop.rs:  python3 tests/interop/fhir_r4_validate.py FILE...
"""
import collections
import importlib
import json
import sys

from pydantic import ValidationError


def model(resource_type, cache={}):
    if resource_type not in cache:
        module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
        cache[resource_type] = getattr(module, resource_type)
    return cache[resource_type]


def main(paths):
    counts = collections.Counter()
    problems = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                resource = json.loads(line)
                kind = resource.get("resourceType")
                if not kind:
                    problems.append(f"{path}:{number}: no resourceType")
                    continue
                try:
                    model(kind).model_validate(resource)
                    counts[kind] += 1
                except ValidationError as e:
                    problems.append(f"{path}:{number}: {kind}/{resource.get('id')}: {e}")
                except ModuleNotFoundError:
                    problems.append(f"{path}:{number}: {kind} is not an R4 resource")
    for kind, n in sorted(counts.items()):
        print(f"{kind}: {n} valid")
    if problems:
        return f"{len(problems)} invalid:\n" + "\n".join(problems[:10])
    if not counts:
        return "no FHIR resource found"
    return None


if __name__ == "__main__":
    problem = main(sys.argv[1:])
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(1)
