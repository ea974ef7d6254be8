//! A hosted model's `base_url`: one server, or a fleet of several serving the same model.

use std::fmt;

/// Where a hosted model is reached: `base_url = "http://a:8000/v1"` (one server) or
/// `base_url = ["http://a:8000/v1", "http://b:8000/v1"]` (a fleet: requests go to the
/// least-loaded healthy one, see `docs/providers.md`).
///
/// Serialised as written — a string or a list — so that models with one URL keep the
/// serialisation (and the run hash) they had before fleets existed. URLs are validated
/// (absolute http or https, distinct) and kept as written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum BaseUrl {
    /// One server.
    One(String),
    /// Several servers, in the order written; never empty.
    Fleet(Vec<String>),
}

impl BaseUrl {
    /// Every URL, in the order written (one for [`BaseUrl::One`]).
    pub fn urls(&self) -> &[String] {
        match self {
            BaseUrl::One(url) => std::slice::from_ref(url),
            BaseUrl::Fleet(urls) => urls,
        }
    }

    /// The first URL (the only one for [`BaseUrl::One`]).
    pub fn first(&self) -> &str {
        // A fleet is never empty: the conversion refuses an empty list.
        self.urls().first().map_or("", String::as_str)
    }

    /// How many endpoints serve the model.
    pub fn len(&self) -> usize {
        self.urls().len()
    }

    /// Whether it names no URL: never for one read from a project file (an empty list is
    /// refused there); a client refuses one built otherwise.
    pub fn is_empty(&self) -> bool {
        self.urls().is_empty()
    }
}

impl From<&str> for BaseUrl {
    fn from(url: &str) -> Self {
        BaseUrl::One(url.to_owned())
    }
}

impl From<String> for BaseUrl {
    fn from(url: String) -> Self {
        BaseUrl::One(url)
    }
}

/// The URLs joined with `, ` (the URL itself for one).
impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.urls().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::BaseUrl;

    #[test]
    fn one_url_serialises_as_a_string_and_a_fleet_as_a_list() {
        let one = BaseUrl::from("http://a:8000/v1");
        assert_eq!(
            serde_json::to_string(&one).expect("json"),
            r#""http://a:8000/v1""#
        );
        let fleet = BaseUrl::Fleet(vec!["http://a/v1".into(), "http://b/v1".into()]);
        assert_eq!(
            serde_json::to_string(&fleet).expect("json"),
            r#"["http://a/v1","http://b/v1"]"#
        );
        assert_eq!(fleet.len(), 2);
        assert_eq!(fleet.first(), "http://a/v1");
        assert_eq!(fleet.to_string(), "http://a/v1, http://b/v1");
        assert_eq!(one.urls(), ["http://a:8000/v1"]);
    }
}
