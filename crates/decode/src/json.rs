//! json decoder (being written)
