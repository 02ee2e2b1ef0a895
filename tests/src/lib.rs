//! Integration tests of brisk live in `tests/`.
