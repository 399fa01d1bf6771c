//! Load balancing in a client proxy: the priorities and locality weights istiod computes from
//! `localityLbSetting` relative to the client's locality (reference §2), and Envoy's choice of a
//! host — a priority level by its health (healthy share × 1.4, spilling what is left to the next
//! level), then round robin over the level's healthy hosts. Where Envoy draws at random (which
//! level, which locality), a smooth weighted round robin keeps the same proportions
//! deterministically; round-robin indexes advance with every pick, retries included.

use std::collections::BTreeMap;

use super::policy::LocalityLbSetting;

/// Envoy's overprovisioning factor, which Istio leaves at 140%.
const OVERPROVISIONING: u64 = 140;

/// Where a workload runs: its locality and the labels `failoverPriority` can name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub region: String,
    pub zone: String,
    pub subzone: String,
    /// The pod's labels, plus `topology.istio.io/network`, `topology.istio.io/cluster`,
    /// `topology.kubernetes.io/region`/`zone`, `topology.istio.io/subzone`,
    /// `kubernetes.io/hostname`.
    pub labels: BTreeMap<String, String>,
}

impl Placement {
    /// `region/zone/subzone`, as Istio writes a locality.
    pub fn locality(&self) -> String {
        format!("{}/{}/{}", self.region, self.zone, self.subzone)
    }

    /// Whether the locality matches a pattern of `distribute` (`region/zone/subzone`, any
    /// segment `*`, missing segments matching anything).
    fn matches(&self, pattern: &str) -> bool {
        let mine = [&self.region, &self.zone, &self.subzone];
        pattern.split('/').zip(mine).all(|(p, m)| p == "*" || p == m)
    }
}

/// Istio's default priority of an endpoint relative to the client (`util.LbPriority`), with
/// `failover` pushing the regions it does not name to 4.
fn locality_priority(client: &Placement, ep: &Placement, failover: &[(String, String)]) -> u32 {
    if client.region == ep.region {
        return match (client.zone == ep.zone, client.subzone == ep.subzone) {
            (true, true) => 0,
            (true, false) => 1,
            _ => 2,
        };
    }
    match failover.iter().find(|(from, _)| *from == client.region) {
        Some((_, to)) if *to != ep.region => 4,
        _ => 3,
    }
}

/// `failoverPriority`: N minus the number of leading labels the endpoint matches (a `key=value`
/// entry matches the value, a key the client's value).
fn label_priority(client: &Placement, ep: &Placement, labels: &[String]) -> u32 {
    let matched = labels
        .iter()
        .take_while(|l| match l.split_once('=') {
            Some((k, v)) => ep.labels.get(k).is_some_and(|e| e == v),
            None => client.labels.get(*l).is_some_and(|c| ep.labels.get(*l) == Some(c)),
        })
        .count();
    (labels.len() - matched) as u32
}

/// One priority level: its hosts (indexes into the endpoint list), grouped by locality weight
/// when `distribute` applies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Level {
    pub hosts: Vec<usize>,
    /// `(locality, weight, hosts)` under `distribute`; empty otherwise.
    pub localities: Vec<(String, u64, Vec<usize>)>,
}

/// The levels of an upstream cluster as istiod pushes them to one client; level 0 first.
pub fn levels(
    client: &Placement,
    hosts: &[Placement],
    setting: &LocalityLbSetting,
    has_outlier_detection: bool,
) -> Vec<Level> {
    let all = || vec![Level { hosts: (0..hosts.len()).collect(), localities: Vec::new() }];
    if setting.disabled {
        return all();
    }
    if let Some((_, to)) = setting.distribute.iter().find(|(from, _)| client.matches(from)) {
        return vec![distribute(hosts, to)];
    }
    if !has_outlier_detection {
        // Failover priorities are computed only for a cluster with outlier detection.
        return all();
    }
    let priority: Vec<u32> = hosts
        .iter()
        .map(|ep| {
            if setting.failover_priority.is_empty() {
                locality_priority(client, ep, &setting.failover)
            } else {
                label_priority(client, ep, &setting.failover_priority)
            }
        })
        .collect();
    // Renumbered without gaps.
    let mut used: Vec<u32> = priority.clone();
    used.sort_unstable();
    used.dedup();
    used.iter()
        .map(|p| Level {
            hosts: (0..hosts.len()).filter(|i| priority[*i] == *p).collect(),
            localities: Vec::new(),
        })
        .collect()
}

/// `distribute`'s weights (`applyLocalityWeights`): each `to` pattern's weight shared by the
/// localities it matches in proportion to their endpoints; unmatched localities get nothing.
fn distribute(hosts: &[Placement], to: &BTreeMap<String, u32>) -> Level {
    let mut by_locality: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, h) in hosts.iter().enumerate() {
        by_locality.entry(h.locality()).or_default().push(i);
    }
    let mut taken: BTreeMap<String, u64> = BTreeMap::new();
    for (pattern, weight) in to {
        let matched: Vec<(&String, usize)> = by_locality
            .iter()
            .filter(|(l, hs)| !taken.contains_key(*l) && hosts[hs[0]].matches(pattern))
            .map(|(l, hs)| (l, hs.len()))
            .collect();
        let total: usize = matched.iter().map(|(_, n)| n).sum();
        for (l, n) in matched {
            let w = (u64::from(*weight) * n as u64).div_ceil(total.max(1) as u64);
            taken.insert(l.clone(), w);
        }
    }
    let localities: Vec<(String, u64, Vec<usize>)> = taken
        .into_iter()
        .filter(|(_, w)| *w > 0)
        .filter_map(|(l, w)| by_locality.get(&l).map(|hs| (l, w, hs.clone())))
        .collect();
    Level { hosts: localities.iter().flat_map(|(_, _, hs)| hs.clone()).collect(), localities }
}

/// A health score: healthy share × 1.4, at most 100 (Envoy's priority load).
fn health(healthy: usize, total: usize) -> u64 {
    if total == 0 {
        return 0;
    }
    (OVERPROVISIONING * healthy as u64 / total as u64).min(100)
}

/// The per-client state of the choice: round-robin indexes and weighted-round-robin credits.
#[derive(Clone, Debug, Default)]
pub struct Balancer {
    rr: BTreeMap<String, usize>,
    credit: BTreeMap<String, i64>,
}

impl Balancer {
    /// Chooses a host; `None` is Envoy's `no healthy upstream`. `panic_threshold` is the
    /// percentage of healthy hosts below which a level ignores health.
    pub fn pick(
        &mut self,
        levels: &[Level],
        healthy: &dyn Fn(usize) -> bool,
        panic_threshold: u32,
    ) -> Option<usize> {
        let counts: Vec<(usize, usize)> = levels
            .iter()
            .map(|l| (l.hosts.iter().filter(|h| healthy(**h)).count(), l.hosts.len()))
            .collect();
        let in_panic = |(ok, total): (usize, usize)| {
            total > 0 && (100 * ok as u64) < u64::from(panic_threshold) * total as u64
        };
        let scores: Vec<u64> = counts.iter().map(|(ok, total)| health(*ok, *total)).collect();
        let normalized: u64 = scores.iter().sum::<u64>().min(100);
        let level = if normalized == 0 {
            // Nothing healthy: only a level in panic still takes traffic.
            let first = counts.iter().position(|c| c.1 > 0)?;
            if !in_panic(counts[first]) {
                return None;
            }
            first
        } else {
            let mut left = 100u64;
            let loads: Vec<u64> = scores
                .iter()
                .map(|s| {
                    let load = (s * 100 / normalized).min(left);
                    left -= load;
                    load
                })
                .collect();
            let keys: Vec<String> = (0..levels.len()).map(|i| format!("priority {i}")).collect();
            self.weighted(&keys, &loads)?
        };
        let chosen = &levels[level];
        let panic = in_panic(counts[level]);
        let usable = |h: &usize| panic || healthy(*h);
        if chosen.localities.is_empty() {
            let hosts: Vec<usize> = chosen.hosts.iter().copied().filter(usable).collect();
            return self.round_robin(&format!("priority {level}"), &hosts);
        }
        let keys: Vec<String> = chosen.localities.iter().map(|(l, _, _)| l.clone()).collect();
        let weights: Vec<u64> = chosen
            .localities
            .iter()
            .map(|(_, w, hs)| {
                let ok = hs.iter().filter(|h| usable(h)).count();
                w * health(ok, hs.len())
            })
            .collect();
        let i = self.weighted(&keys, &weights)?;
        let hosts: Vec<usize> = chosen.localities[i].2.iter().copied().filter(usable).collect();
        self.round_robin(&keys[i], &hosts)
    }

    fn round_robin(&mut self, key: &str, hosts: &[usize]) -> Option<usize> {
        if hosts.is_empty() {
            return None;
        }
        let n = self.rr.entry(key.to_owned()).or_insert(0);
        let host = hosts[*n % hosts.len()];
        *n = n.wrapping_add(1);
        Some(host)
    }

    /// Smooth weighted round robin over `keys` (nginx's): deterministic, in proportion.
    fn weighted(&mut self, keys: &[String], weights: &[u64]) -> Option<usize> {
        let total: i64 = weights.iter().map(|w| *w as i64).sum();
        if total == 0 {
            return None;
        }
        let mut best: Option<(usize, i64)> = None;
        for (i, (k, w)) in keys.iter().zip(weights).enumerate() {
            if *w == 0 {
                continue;
            }
            let c = self.credit.entry(k.clone()).or_insert(0);
            *c += *w as i64;
            if best.is_none_or(|(_, b)| *c > b) {
                best = Some((i, *c));
            }
        }
        let (i, _) = best?;
        if let Some(c) = self.credit.get_mut(&keys[i]) {
            *c -= total;
        }
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(region: &str, zone: &str) -> Placement {
        Placement { region: region.into(), zone: zone.into(), ..Placement::default() }
    }

    #[test]
    fn priorities_follow_the_clients_locality() {
        let client = at("r1", "z1");
        let hosts = [at("r1", "z1"), at("r1", "z2"), at("r2", "z1"), at("r3", "z1")];
        let s = LocalityLbSetting::default();
        let ls = levels(&client, &hosts, &s, true);
        let hs: Vec<Vec<usize>> = ls.iter().map(|l| l.hosts.clone()).collect();
        assert_eq!(hs, [vec![0], vec![1], vec![2, 3]], "0, 2, 3 renumbered to 0, 1, 2");
        assert_eq!(levels(&client, &hosts, &s, false).len(), 1, "no failover without outliers");
        let failover = LocalityLbSetting {
            failover: vec![("r1".into(), "r3".into())],
            ..LocalityLbSetting::default()
        };
        let hs: Vec<Vec<usize>> =
            levels(&client, &hosts, &failover, true).iter().map(|l| l.hosts.clone()).collect();
        assert_eq!(hs, [vec![0], vec![1], vec![3], vec![2]]);
    }

    #[test]
    fn a_level_spills_below_71_percent_healthy() {
        let ls = vec![
            Level { hosts: (0..10).collect(), localities: vec![] },
            Level { hosts: vec![10], localities: vec![] },
        ];
        let mut b = Balancer::default();
        // 8 of 10 healthy: 112% → all traffic stays at level 0.
        let eight = |h: usize| h >= 2;
        assert!((0..100).all(|_| b.pick(&ls, &eight, 0).is_some_and(|h| h < 10)));
        // 5 of 10: 70% at level 0, 30% spills to level 1.
        let five = |h: usize| h >= 5;
        let to_1 = (0..100).filter(|_| b.pick(&ls, &five, 0) == Some(10)).count();
        assert_eq!(to_1, 30);
        let none = |_: usize| false;
        assert_eq!(b.pick(&ls, &none, 0), None, "no healthy upstream");
        assert!(b.pick(&ls, &none, 50).is_some_and(|h| h < 10), "panic: health ignored");
    }

    #[test]
    fn distribute_sends_traffic_only_where_it_says() {
        let client = at("r1", "z1");
        let hosts = [at("r1", "z1"), at("r2", "z1"), at("r2", "z2")];
        let s = LocalityLbSetting {
            distribute: vec![("r1/*".into(), BTreeMap::from([("r2/z2".to_owned(), 100)]))],
            ..LocalityLbSetting::default()
        };
        let ls = levels(&client, &hosts, &s, false);
        let mut b = Balancer::default();
        assert!((0..10).all(|_| b.pick(&ls, &|_| true, 50) == Some(2)));
    }
}
