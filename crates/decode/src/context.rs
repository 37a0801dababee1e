//! context decoder (being written)
