//! brisk-macros: placeholder.
