use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;

fn pool(n: usize) -> Arc<Pool> {
    Arc::new(Pool::new(
        (0..n).map(|i| format!("http://e{i}/v1")).collect(),
        Ejection::default(),
    ))
}

fn server_error() -> ProviderError {
    ProviderError::Server {
        provider: "m".into(),
        status: 503,
        message: "busy".into(),
    }
}

/// What is left of endpoint `i`'s cool-down at `now`.
fn left(p: &Pool, i: usize, now: Instant) -> Option<Duration> {
    p.lock().endpoints[i]
        .ejected_until
        .filter(|&u| u > now)
        .map(|u| u - now)
}

#[test]
fn one_at_a_time_goes_round_robin() {
    let p = pool(3);
    let order: Vec<usize> = (0..7).map(|_| p.acquire().index()).collect();
    assert_eq!(order, [0, 1, 2, 0, 1, 2, 0]);
    let stats = p.stats();
    assert_eq!(
        stats.iter().map(|s| s.requests).collect::<Vec<_>>(),
        [3, 2, 2]
    );
    assert!(stats.iter().all(|s| s.in_flight == 0));
}

#[test]
fn the_least_loaded_endpoint_is_chosen() {
    let p = pool(3);
    let held: Vec<Lease> = (0..4).map(|_| p.acquire()).collect();
    // 0 has two in flight, 1 and 2 one each.
    assert_eq!(
        held.iter().map(Lease::index).collect::<Vec<_>>(),
        [0, 1, 2, 0]
    );
    let a = p.acquire();
    let b = p.acquire();
    assert_eq!((a.index(), b.index()), (1, 2));
    drop(held);
    let in_flight: Vec<usize> = p.stats().iter().map(|s| s.in_flight).collect();
    assert_eq!(in_flight, [0, 1, 1]);
    assert_eq!(p.acquire().index(), 0, "the idle one");
}

#[test]
fn a_failing_endpoint_is_ejected_with_a_doubling_cooldown_reset_by_success() {
    let p = pool(2);
    let mut now = Instant::now();
    let mut cooldowns = Vec::new();
    for _ in 0..6 {
        let lease = p.acquire_same(0);
        p.failed(&lease, &server_error(), now);
        cooldowns.push(left(&p, 0, now).expect("ejected").as_secs());
        // While ejected, attempts go to the other endpoint.
        assert_eq!(p.lock().choose(now, &[], true), Some(1));
        now += Duration::from_secs(61);
    }
    assert_eq!(cooldowns, [5, 10, 20, 40, 60, 60]);
    assert_eq!(p.stats()[0].ejections, 6);
    assert_eq!(p.stats()[0].failures, 6);
    p.acquire_same(0).succeeded();
    let lease = p.acquire_same(0);
    p.failed(&lease, &server_error(), now);
    assert_eq!(left(&p, 0, now), Some(Duration::from_secs(5)), "reset");
    drop(lease);
    // Once the cool-down is over it is back in rotation.
    let later = now + Duration::from_secs(5);
    let picks: Vec<usize> = (0..2)
        .map(|_| p.lock().choose(later, &[], false).expect("healthy"))
        .collect();
    assert!(picks.contains(&0), "{picks:?}");
}

#[test]
fn client_errors_do_not_eject() {
    let p = pool(2);
    let lease = p.acquire_same(0);
    for error in [
        ProviderError::InvalidRequest {
            provider: "m".into(),
            detail: "HTTP 400".into(),
        },
        ProviderError::Auth {
            provider: "m".into(),
            status: 401,
            message: "no".into(),
        },
        ProviderError::Server {
            provider: "m".into(),
            status: 409,
            message: "conflict".into(),
        },
    ] {
        assert!(!is_endpoint_fault(&error), "{error}");
        lease.failed(&error);
    }
    let s = &p.stats()[0];
    assert_eq!((s.failures, s.ejections, s.ejected_for), (0, 0, None));
}

#[test]
fn requests_failing_together_eject_once() {
    let p = pool(2);
    let now = Instant::now();
    let (a, b) = (p.acquire_same(0), p.acquire_same(0));
    p.failed(&a, &server_error(), now);
    p.failed(&b, &server_error(), now);
    let s = &p.stats()[0];
    assert_eq!((s.failures, s.ejections), (2, 1));
    assert_eq!(
        left(&p, 0, now),
        Some(Duration::from_secs(5)),
        "not doubled"
    );
}

#[test]
fn when_all_are_ejected_the_one_back_first_is_tried() {
    let p = pool(3);
    let now = Instant::now();
    for (i, failures) in [(0, 3), (1, 1), (2, 2)] {
        for k in 0..failures {
            let lease = p.acquire_same(i);
            p.failed(&lease, &server_error(), now + Duration::from_secs(100 * k));
        }
    }
    // Cool-downs end at: 0 → now + 200 + 20 s, 1 → now + 5 s, 2 → now + 100 + 10 s.
    let at = now + Duration::from_secs(6);
    assert_eq!(p.lock().choose(at, &[], false), Some(1), "1 is back");
    let early = now + Duration::from_secs(1);
    assert_eq!(p.lock().choose(early, &[], false), None);
    assert_eq!(p.acquire_at(early).index(), 1, "ends first");
    // A probe that fails while ejected is ejected again, for longer.
    let probe = p.acquire_at(early);
    p.failed(&probe, &server_error(), early);
    assert_eq!(left(&p, 1, early), Some(Duration::from_secs(10)));
    // A probe that succeeds puts the endpoint back at once.
    let probe = p.acquire_at(early);
    assert_eq!(probe.index(), 1);
    probe.succeeded();
    assert_eq!(left(&p, 1, early), None);
}

#[test]
fn retry_after_lengthens_the_cooldown_up_to_the_cap() {
    let p = pool(2);
    let now = Instant::now();
    let limited = |s| ProviderError::RateLimited {
        provider: "m".into(),
        retry_after: Some(Duration::from_secs(s)),
        message: String::new(),
    };
    let lease = p.acquire_same(0);
    p.failed(&lease, &limited(30), now);
    assert_eq!(left(&p, 0, now), Some(Duration::from_secs(30)));
    let lease = p.acquire_same(1);
    p.failed(&lease, &limited(3600), now);
    assert_eq!(left(&p, 1, now), Some(Duration::from_secs(60)));
}

#[test]
fn untried_endpoints_exclude_those_tried_and_ejected() {
    let p = pool(3);
    let first = p.acquire();
    assert_eq!(first.index(), 0);
    first.failed(&server_error());
    let second = p.acquire_untried(&[0]).expect("another");
    assert_eq!(second.index(), 1);
    assert_eq!(p.acquire_untried(&[0, 1]).map(|l| l.index()), Some(2));
    assert!(p.acquire_untried(&[1, 2]).is_none(), "0 is ejected");
}
