//! esimaccess adapter tests (written with the adapter).
