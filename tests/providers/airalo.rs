//! airalo adapter tests (written with the adapter).
