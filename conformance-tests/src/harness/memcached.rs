//! memcached servers for tests (being written).
