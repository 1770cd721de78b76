//! `Freshness::until_midnight_in`: an entry cached until midnight in Europe/Berlin on the two days
//! a year its clocks change lasts 23 and 25 hours, by the layer's clock.

use std::time::{Duration, UNIX_EPOCH};

use cachette_core::Cache;
use cachette_http::{CacheControl, CacheLayer, Freshness};

use crate::support::{Calls, FakeClock, Server, counted};

/// 2030-03-31 00:00 in Berlin (+01:00); at 02:00 the clocks jump to 03:00 (+02:00).
const SPRING: u64 = 1_901_142_000;
/// 2030-10-27 00:00 in Berlin (+02:00); at 03:00 the clocks go back to 02:00 (+01:00).
const AUTUMN: u64 = 1_919_282_400;

/// Serves `/daily` cached until midnight in Berlin, from 00:00:10 on `day`; checks the first
/// response's expiry (its `max-age`: until the end of the stored entry), a hit a second before
/// it, a miss a second after, and the next day's expiry.
async fn a_day_in_berlin_lasts(cache: Cache, day: u64, hours: u64) {
    let clock = FakeClock::at(UNIX_EPOCH + Duration::from_secs(day + 10));
    let calls = Calls::default();
    let app = axum::Router::new().route("/daily", counted(&calls, "today")).layer(
        CacheLayer::new(cache)
            .fresh_for(Freshness::until_midnight_in("Europe/Berlin").unwrap())
            .cache_control(CacheControl::public().max_age_until_expiry())
            .clock(clock.clock()),
    );
    let server = Server::start(app).await;
    let day_secs = hours * 3600;

    let first = server.get("/daily").await;
    let expected = format!("public, max-age={}", day_secs - 10);
    assert_eq!((first.x_cache(), first.header("cache-control")), ("MISS", expected.as_str()));
    clock.advance(Duration::from_secs(day_secs - 11)); // 23:59:59 in Berlin
    let last_second = server.get("/daily").await;
    assert_eq!((last_second.x_cache(), last_second.header("cache-control")), ("HIT", "public, max-age=1"));
    clock.advance(Duration::from_secs(2)); // 00:00:01 the next day
    let next_day = server.get("/daily").await;
    assert_eq!(next_day.x_cache(), "MISS", "the entry ended at Berlin's midnight, {hours} hours after the last");
    assert_eq!(next_day.header("cache-control"), "public, max-age=86399", "the next day has 24 hours");
    assert_eq!(calls.get(), 2);
}

async fn until_midnight_in_berlin_lasts_23_hours_on_the_day_the_clocks_go_forward(cache: Cache) {
    a_day_in_berlin_lasts(cache, SPRING, 23).await;
}

async fn until_midnight_in_berlin_lasts_25_hours_on_the_day_the_clocks_go_back(cache: Cache) {
    a_day_in_berlin_lasts(cache, AUTUMN, 25).await;
}

on_every_backend!(
    until_midnight_in_berlin_lasts_23_hours_on_the_day_the_clocks_go_forward,
    until_midnight_in_berlin_lasts_25_hours_on_the_day_the_clocks_go_back,
);
