//! brisk-compat: placeholder, filled by the ecosystem issue.
