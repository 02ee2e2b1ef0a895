//! Benchmark scenarios shared by criterion and `compare`.
