//! Metrics endpoint and query log, end to end.

mod exposition;
