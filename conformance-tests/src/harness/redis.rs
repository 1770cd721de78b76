//! Redis servers for tests (being written).
