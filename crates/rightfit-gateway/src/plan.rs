//! Routing as a pure plan: which candidate answers a request, which ones to fall back on, and
//! which ones shadow it, from the component's policy and the request's sticky key alone.
//!
//! A weighted split is sticky: the same key (a user, a session header) always lands on the same
//! candidate while the weights stay the same, so a canary user does not flip between models.
//! Requests without a key draw at random. Shadowing at a rate below 1 is sticky the same way.

use rightfit_config::project::{Route, ServePolicy};

/// How a request's answering target was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// The request named a model, not a component.
    Direct,
    /// The component's policy pins one candidate.
    Pinned,
    /// A weighted split chose the candidate.
    Split,
}

impl RouteKind {
    /// The name recorded in traffic and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteKind::Direct => "direct",
            RouteKind::Pinned => "pinned",
            RouteKind::Split => "split",
        }
    }
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// How the first target was chosen.
    pub route: RouteKind,
    /// Targets in order: the chosen candidate, then the fallbacks (without repeats).
    pub chain: Vec<String>,
    /// Candidates run in the background on the same request.
    pub shadows: Vec<String>,
}

/// Where the random draws come from (a seeded source in tests).
pub trait Draw {
    /// A number in `[0, 1)`.
    fn next(&mut self) -> f64;
}

impl<F: FnMut() -> f64> Draw for F {
    fn next(&mut self) -> f64 {
        self()
    }
}

/// 64-bit FNV-1a: stable across runs, builds and machines (unlike the std hasher), so a key's
/// bucket survives a restart.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// MurmurHash3's 64-bit finaliser: FNV-1a alone mixes the last bytes of a key poorly into
/// its top bits (`user-1` … `user-39` all land in the same half), and the top bits choose.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A point in `[0, 1)` for a key: the same key, the same point.
fn point(key: &str, salt: &str) -> f64 {
    // The top 53 bits make an exactly representable fraction.
    (mix(fnv1a(&[salt.as_bytes(), key.as_bytes()])) >> 11) as f64 / (1u64 << 53) as f64
}

/// The plan for a request to a component under `policy`. `key` is the sticky key the policy
/// asks for (`None` when the request has none); `draw` is asked only when no key decides.
pub fn plan(policy: &ServePolicy, key: Option<&str>, draw: &mut dyn Draw) -> Plan {
    let (route, chosen) = match &policy.route {
        Route::Pinned(name) => (RouteKind::Pinned, name.clone()),
        Route::Split(weights) => {
            let at = match key {
                Some(k) => point(k, "split"),
                None => draw.next(),
            };
            (RouteKind::Split, pick(weights, at))
        }
    };
    let mut chain = vec![chosen];
    for f in &policy.fallback {
        if !chain.contains(f) {
            chain.push(f.clone());
        }
    }
    let shadowed = policy.shadow_rate >= 1.0
        || match key {
            Some(k) => point(k, "shadow") < policy.shadow_rate,
            None => draw.next() < policy.shadow_rate,
        };
    let shadows = if shadowed && !policy.shadow.is_empty() {
        policy
            .shadow
            .iter()
            .filter(|s| **s != chain[0])
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    Plan {
        route,
        chain,
        shadows,
    }
}

/// The candidate whose share of the weights covers `at` (in `[0, 1)`), in the split's order.
fn pick(weights: &[(String, u32)], at: f64) -> String {
    let total: u64 = weights.iter().map(|(_, w)| u64::from(*w)).sum();
    let target = (at.clamp(0.0, 1.0) * total as f64) as u64;
    let mut seen = 0u64;
    for (name, w) in weights {
        seen += u64::from(*w);
        if target < seen {
            return name.clone();
        }
    }
    // `at` of exactly 1 (or rounding at the top): the last one.
    weights.last().map(|(n, _)| n.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rightfit_config::project::Sticky;

    fn policy(route: Route) -> ServePolicy {
        ServePolicy {
            route,
            sticky: Sticky::User,
            shadow: Vec::new(),
            shadow_rate: 1.0,
            fallback: Vec::new(),
            timeout_s: None,
        }
    }

    fn split(a: u32, b: u32) -> ServePolicy {
        policy(Route::Split(vec![("big".into(), a), ("small".into(), b)]))
    }

    fn seeded(seed: u64) -> impl FnMut() -> f64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        move || rng.f64()
    }

    #[test]
    fn pinned_goes_to_its_candidate_then_the_fallbacks_once_each() {
        let mut p = policy(Route::Pinned("a".into()));
        p.fallback = vec!["b".into(), "a".into(), "c".into(), "b".into()];
        let plan = plan(&p, None, &mut seeded(1));
        assert_eq!(plan.route, RouteKind::Pinned);
        assert_eq!(plan.chain, ["a", "b", "c"]);
        assert!(plan.shadows.is_empty());
    }

    #[test]
    fn a_split_follows_its_weights_over_many_keys() {
        let p = split(90, 10);
        let small = (0..20_000)
            .filter(|i| plan(&p, Some(&format!("user-{i}")), &mut seeded(0)).chain[0] == "small")
            .count();
        // 10% of 20,000 = 2,000; a fair hash stays within a few standard deviations (~42).
        assert!((1_850..=2_150).contains(&small), "{small}");
    }

    #[test]
    fn a_split_without_keys_follows_its_weights_by_draw() {
        let p = split(70, 30);
        let mut draw = seeded(7);
        let small = (0..20_000)
            .filter(|_| plan(&p, None, &mut draw).chain[0] == "small")
            .count();
        assert!((5_700..=6_300).contains(&small), "{small}");
    }

    #[test]
    fn short_keys_that_differ_at_the_end_spread_over_both_halves() {
        // Few keys, as a small canary sees: FNV-1a without the finaliser put all 40 in one half.
        let p = split(50, 50);
        let small = (0..40)
            .filter(|i| plan(&p, Some(&format!("user-{i}")), &mut seeded(0)).chain[0] == "small")
            .count();
        assert!((10..=30).contains(&small), "{small} of 40");
    }

    #[test]
    fn a_key_always_lands_on_the_same_candidate() {
        let p = split(50, 50);
        for i in 0..200 {
            let key = format!("session-{i}");
            let first = plan(&p, Some(&key), &mut seeded(1)).chain[0].clone();
            for seed in 2..6 {
                assert_eq!(plan(&p, Some(&key), &mut seeded(seed)).chain[0], first);
            }
        }
    }

    #[test]
    fn growing_a_canary_moves_only_keys_towards_it() {
        // From 5% to 20%: every key that was on the canary stays there.
        let before = split(95, 5);
        let after = split(80, 20);
        for i in 0..5_000 {
            let key = format!("k{i}");
            let was = plan(&before, Some(&key), &mut seeded(0)).chain[0].clone();
            let now = plan(&after, Some(&key), &mut seeded(0)).chain[0].clone();
            assert!(!(was == "small" && now == "big"), "{key} left the canary");
        }
    }

    #[test]
    fn shadows_skip_the_answering_candidate_and_follow_the_rate() {
        let mut p = policy(Route::Pinned("a".into()));
        p.shadow = vec!["a".into(), "s".into()];
        assert_eq!(plan(&p, None, &mut seeded(1)).shadows, ["s"]);
        p.shadow_rate = 0.25;
        let mut draw = seeded(3);
        let shadowed = (0..10_000)
            .filter(|_| !plan(&p, None, &mut draw).shadows.is_empty())
            .count();
        assert!((2_300..=2_700).contains(&shadowed), "{shadowed}");
        // Sticky: a key is either always shadowed or never.
        let key = Some("user-9");
        let first = plan(&p, key, &mut seeded(1)).shadows.len();
        assert!((0..20).all(|s| plan(&p, key, &mut seeded(s)).shadows.len() == first));
    }

    #[test]
    fn the_hash_is_stable() {
        // Buckets must not move between builds: pin the function's output.
        assert_eq!(fnv1a(&[b"rightfit"]), 0x1bc4_6842_1fd6_ff29);
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
        let p = point("user-1", "split");
        assert!((0.0..1.0).contains(&p));
        assert_eq!(p, point("user-1", "split"));
    }
}
