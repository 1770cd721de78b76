//! UWSGICache against a real uWSGI server: the conformance suite (here) and what is specific to
//! uWSGI (one module per topic). One test binary, so that the suite and the topics link once.

mod conformance;
mod outage;
mod protocol;
