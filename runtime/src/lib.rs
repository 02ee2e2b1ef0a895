//! brisk
