//! Scorers: small pure functions from (prediction, reference) to a score.
//!
//! Each metric that has a reference implementation reproduces it value for value; the tests
//! check against the golden files in `../shared/data/golden`.

/// `+=`, `+` and `Sum` for a statistics type with `merge(&mut self, &Self)` and `Default`, so
/// per-example statistics add up to corpus statistics.
macro_rules! merge_ops {
    ($t:ty) => {
        impl std::ops::AddAssign<&$t> for $t {
            fn add_assign(&mut self, other: &$t) {
                self.merge(other);
            }
        }

        impl std::ops::AddAssign for $t {
            fn add_assign(&mut self, other: $t) {
                self.merge(&other);
            }
        }

        impl std::ops::Add for $t {
            type Output = $t;

            fn add(mut self, other: $t) -> $t {
                self.merge(&other);
                self
            }
        }

        impl std::iter::Sum for $t {
            fn sum<I: Iterator<Item = $t>>(iter: I) -> $t {
                iter.fold(<$t>::default(), std::ops::Add::add)
            }
        }

        impl<'a> std::iter::Sum<&'a $t> for $t {
            fn sum<I: Iterator<Item = &'a $t>>(iter: I) -> $t {
                iter.fold(<$t>::default(), |mut sum, s| {
                    sum.merge(s);
                    sum
                })
            }
        }
    };
}
use merge_ops;

pub mod bleu;
pub mod chrf;
pub mod json;
pub mod label;
pub mod matching;
pub mod porter;
pub mod rouge;
pub mod span;
pub mod squad;
pub mod tool_call;
