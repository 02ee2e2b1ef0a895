//! brisk-io: placeholder, filled by the I/O issue.
