//! How many requests an emulated API server has answered, by verb and resource: what a benchmark
//! or a test reads to see how many calls a client made (e.g. at most one read per object).

use std::collections::BTreeMap;
use std::sync::Mutex;

use meshform_core::sync::lock;

/// What a request asked for: its HTTP method and, for an object or collection path, the
/// resource's plural and whether it named one object. Discovery and OpenAPI requests have an
/// empty `plural`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestKind {
    pub method: String,
    pub plural: String,
    /// The path named one object (`…/configmaps/NAME`), not a collection.
    pub named: bool,
    /// A watch (`?watch=true` or the `/watch/` prefix).
    pub watch: bool,
}

/// The counts since the server started; bounded by the number of kinds, not of requests.
#[derive(Debug, Default)]
pub struct RequestCounter {
    counts: Mutex<BTreeMap<RequestKind, u64>>,
}

impl RequestCounter {
    pub fn record(&self, kind: RequestKind) {
        *lock(&self.counts).entry(kind).or_insert(0) += 1;
    }

    /// A copy of the counts so far.
    pub fn snapshot(&self) -> RequestCounts {
        RequestCounts(lock(&self.counts).clone())
    }
}

/// A snapshot of a server's request counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCounts(pub BTreeMap<RequestKind, u64>);

impl RequestCounts {
    /// Requests with `method` on `plural` (e.g. `GET`, `configmaps`), named or not, watches
    /// included.
    pub fn of(&self, method: &str, plural: &str) -> u64 {
        self.0
            .iter()
            .filter(|(k, _)| k.method == method && k.plural == plural)
            .map(|(_, n)| n)
            .sum()
    }

    /// Every request counted.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// What happened between `earlier` and this snapshot.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        let mut out = BTreeMap::new();
        for (k, n) in &self.0 {
            let d = n.saturating_sub(earlier.0.get(k).copied().unwrap_or(0));
            if d > 0 {
                out.insert(k.clone(), d);
            }
        }
        RequestCounts(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(method: &str, plural: &str, named: bool) -> RequestKind {
        RequestKind { method: method.into(), plural: plural.into(), named, watch: false }
    }

    #[test]
    fn counts_by_verb_and_resource_and_since_an_earlier_snapshot() {
        let c = RequestCounter::default();
        c.record(kind("GET", "configmaps", true));
        let before = c.snapshot();
        c.record(kind("GET", "configmaps", true));
        c.record(kind("GET", "configmaps", false));
        c.record(kind("PATCH", "configmaps", true));
        c.record(kind("GET", "", false));
        let now = c.snapshot();
        assert_eq!(now.of("GET", "configmaps"), 3);
        assert_eq!(now.total(), 5);
        let during = now.since(&before);
        assert_eq!(during.of("GET", "configmaps"), 2);
        assert_eq!(during.of("PATCH", "configmaps"), 1);
        assert_eq!(during.total(), 4);
    }
}
