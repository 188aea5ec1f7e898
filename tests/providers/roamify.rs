//! roamify adapter tests (written with the adapter).
