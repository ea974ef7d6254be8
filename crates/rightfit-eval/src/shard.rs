//! One part of an evaluation split across machines (`rightfit eval --shard I/N`).
//!
//! Shard `I/N` takes the examples whose position in the evaluation set (after sampling and the
//! limit, in the set's order) is `I-1` modulo `N`: every machine that prepares the same set
//! agrees on the split without talking to the others, and the `N` shards together take every
//! example exactly once. How shards share one run is the runner's (`runner::sharded`).

use std::fmt;
use std::str::FromStr;

/// Shard `index` of `count` (1 ≤ index ≤ count), written `I/N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// Why `I/N` names no shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// Not two whole numbers around a slash.
    #[error("'{0}' is not a shard: write I/N, e.g. 2/3 for the second of 3 shards")]
    Syntax(String),
    /// `N` is 0.
    #[error("shard {0}/0: N (how many shards) must be at least 1")]
    NoShards(u32),
    /// `I` is 0 or past `N`.
    #[error("there is no shard {index}/{count}: I counts from 1 to {count}")]
    OutOfRange {
        /// I as given.
        index: u32,
        /// N as given.
        count: u32,
    },
}

impl Shard {
    /// Shard `index` of `count`.
    pub fn new(index: u32, count: u32) -> Result<Self, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards(index));
        }
        if index == 0 || index > count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Self { index, count })
    }

    /// `I`, from 1.
    pub fn index(self) -> u32 {
        self.index
    }

    /// `N`.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether the example at `position` (from 0) of the evaluation set is this shard's.
    pub fn owns(self, position: u64) -> bool {
        position % u64::from(self.count) == u64::from(self.index - 1)
    }

    /// The shard of `count` that owns `position`: its `I`.
    pub fn index_of(position: u64, count: u32) -> u32 {
        // The remainder is below `count`, a u32.
        u32::try_from(position % u64::from(count.max(1))).unwrap_or(0) + 1
    }

    /// How many of the examples at positions `0..total` are this shard's.
    pub fn size(self, total: u64) -> u64 {
        let first = u64::from(self.index - 1);
        if total <= first {
            0
        } else {
            (total - first).div_ceil(u64::from(self.count))
        }
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || ShardError::Syntax(s.to_owned());
        let (i, n) = s.trim().split_once('/').ok_or_else(syntax)?;
        let number = |t: &str| t.trim().parse::<u32>().map_err(|_| syntax());
        Self::new(number(i)?, number(n)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i_of_n_parses_and_prints_back() {
        let s: Shard = "2/3".parse().expect("valid");
        assert_eq!((s.index(), s.count()), (2, 3));
        assert_eq!(s.to_string(), "2/3");
        assert_eq!("1/1".parse::<Shard>(), Shard::new(1, 1));
    }

    #[test]
    fn shards_that_do_not_exist_are_refused_with_a_reason() {
        assert_eq!(
            "0/3".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 0, count: 3 })
        );
        assert_eq!(
            "4/3".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 4, count: 3 })
        );
        assert_eq!("1/0".parse::<Shard>(), Err(ShardError::NoShards(1)));
        for junk in ["", "3", "a/b", "1/3/4", "-1/3", "1.5/3", "/3", "1/"] {
            let err = junk.parse::<Shard>().expect_err(junk);
            assert_eq!(err, ShardError::Syntax(junk.to_owned()), "{junk}");
        }
        let message = "4/3".parse::<Shard>().expect_err("past N").to_string();
        assert_eq!(message, "there is no shard 4/3: I counts from 1 to 3");
    }

    #[test]
    fn the_shards_take_every_position_exactly_once() {
        for count in 1..=5u32 {
            let shards: Vec<Shard> = (1..=count)
                .map(|i| Shard::new(i, count).expect("valid"))
                .collect();
            for total in 0..=12u64 {
                for position in 0..total {
                    let owners: Vec<u32> = shards
                        .iter()
                        .filter(|s| s.owns(position))
                        .map(|s| s.index())
                        .collect();
                    assert_eq!(owners, [Shard::index_of(position, count)]);
                }
                let sizes: u64 = shards.iter().map(|s| s.size(total)).sum();
                assert_eq!(sizes, total, "{count} shards of {total}");
                for s in &shards {
                    let owned = (0..total).filter(|&p| s.owns(p)).count() as u64;
                    assert_eq!(s.size(total), owned, "{s} of {total}");
                }
            }
        }
    }
}
