//! The suites and topics on memcached's meta protocol (the default).

on_protocol!("meta");
