//! esimgo adapter tests (written with the adapter).
