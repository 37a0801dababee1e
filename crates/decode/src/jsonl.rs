//! jsonl decoder (being written)
