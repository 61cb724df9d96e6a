"""FHIR R4 input: mappings in FHIRPath from a Bundle to a criteria set's inputs.

A *mapping file* (``criteria/**/*.mapping.yaml``, versioned like a criteria set) states each
input as data: the resource type and a FHIRPath ``where`` filter, the element, a time window
relative to the as-of date, and an aggregate. Code lists are value sets in their own files
(``criteria/**/*.valueset.yaml``, ``system|code``). See ``docs/fhir.md``.

The package is split by job:

- :mod:`~koordrules.fhir.reading` — JSON and NDJSON within one size limit, FHIR version;
- :mod:`~koordrules.fhir.identity` — one patient's resources: references, duplicates, death;
- :mod:`~koordrules.fhir.fhirpath` — FHIRPath checked with positions, compiled, evaluated;
- :mod:`~koordrules.fhir.valuesets` — value sets;
- :mod:`~koordrules.fhir.mapfile` — the mapping file;
- :mod:`~koordrules.fhir.derive` — one input from the resources;
- :mod:`~koordrules.fhir.screen` — bundles to records and results.

FHIRPath comes from the optional extra ``koordrules[fhir]`` (``fhirpathpy``), imported only
when a mapping is used.
"""

from koordrules.errors import FhirPathError, FhirVersionError
from koordrules.fhir.derive import Derived
from koordrules.fhir.identity import PatientRecord, read_patient_bundle, read_patient_file
from koordrules.fhir.mapfile import (
    MAPPING_SUFFIX,
    FhirMapping,
    InputSpec,
    MappingFile,
    check_mapping,
    check_mapping_files,
    find_mapping,
    load_mapping,
    load_mapping_text,
    mapping_files,
    version_fits,
)
from koordrules.fhir.reading import MAX_FHIR_BYTES, iter_json_items, load_json
from koordrules.fhir.screen import (
    FhirRecord,
    evaluate_bundles,
    map_bundle,
    reexplain,
    stored_mapping,
    with_mapping,
)
from koordrules.fhir.valuesets import ValueSet, ValueSets, load_valueset, valueset_files

__all__ = [
    "MAPPING_SUFFIX",
    "MAX_FHIR_BYTES",
    "Derived",
    "FhirMapping",
    "FhirPathError",
    "FhirRecord",
    "FhirVersionError",
    "InputSpec",
    "MappingFile",
    "PatientRecord",
    "ValueSet",
    "ValueSets",
    "check_mapping",
    "check_mapping_files",
    "evaluate_bundles",
    "find_mapping",
    "iter_json_items",
    "load_json",
    "load_mapping",
    "load_mapping_text",
    "load_valueset",
    "map_bundle",
    "mapping_files",
    "read_patient_bundle",
    "read_patient_file",
    "reexplain",
    "stored_mapping",
    "valueset_files",
    "version_fits",
    "with_mapping",
]
