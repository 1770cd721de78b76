//! Cached HTTP views for tower and axum (being written; see the issue tracker).
