//! fhir decoder (being written)
