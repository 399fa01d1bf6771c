//! The critical path of a run: the longest chain of operation durations through the edges that
//! order the operations (each operation may start only once those it waits for have ended).

use std::collections::BTreeMap;
use std::time::Duration;

/// The longest chain, first operation first, and its length (the sum of its durations).
#[derive(Debug, PartialEq)]
pub struct Chain<Op> {
    pub ops: Vec<Op>,
    pub length: Duration,
}

/// The critical path of operations `edges` (each with the operations it waits for) whose
/// `(start, end)` are in `spans`. An operation missing from `spans` counts as taking no time;
/// edges that would close a cycle are never followed (the executor's steps form a DAG).
pub fn critical_path<Op: Copy + Ord>(
    edges: &[(Op, Vec<Op>)],
    spans: &BTreeMap<Op, (Duration, Duration)>,
) -> Chain<Op> {
    let waits: BTreeMap<Op, &[Op]> = edges.iter().map(|(op, w)| (*op, w.as_slice())).collect();
    let duration = |op: &Op| spans.get(op).map_or(Duration::ZERO, |(s, e)| e.saturating_sub(*s));
    // The longest chain ending with each operation: its length and the link before it.
    let mut best: BTreeMap<Op, (Duration, Option<Op>)> = BTreeMap::new();
    let mut on_stack: Vec<Op> = Vec::new();
    for (root, _) in edges {
        let mut stack = vec![(*root, false)];
        while let Some((op, expanded)) = stack.pop() {
            if best.contains_key(&op) {
                continue;
            }
            let deps = waits.get(&op).copied().unwrap_or(&[]);
            if !expanded {
                on_stack.push(op);
                stack.push((op, true));
                for d in deps {
                    if !best.contains_key(d) && !on_stack.contains(d) {
                        stack.push((*d, false));
                    }
                }
                continue;
            }
            on_stack.retain(|o| *o != op);
            let before = deps
                .iter()
                .filter_map(|d| best.get(d).map(|(len, _)| (*len, *d)))
                .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            let (len, prev) = before.map_or((Duration::ZERO, None), |(l, d)| (l, Some(d)));
            best.insert(op, (len + duration(&op), prev));
        }
    }
    let Some((&last, &(length, _))) =
        best.iter().max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.0.cmp(a.0)))
    else {
        return Chain { ops: Vec::new(), length: Duration::ZERO };
    };
    let mut ops = vec![last];
    while let Some(prev) = best.get(ops.last().unwrap_or(&last)).and_then(|(_, p)| *p) {
        ops.push(prev);
    }
    ops.reverse();
    Chain { ops, length }
}

/// Checks [`critical_path`] on small graphs whose answer is known (run by `cargo test --benches`).
pub fn self_check() {
    let ms = Duration::from_millis;
    let spans: BTreeMap<u8, (Duration, Duration)> = BTreeMap::from([
        (1, (ms(0), ms(100))),
        (2, (ms(0), ms(30))),
        (3, (ms(110), ms(150))),
        (4, (ms(35), ms(300))),
        (5, (ms(310), ms(320))),
    ]);
    // 3 waits for 1 and 2; 4 for 2; 5 for 3 and 4. Longest: 2 → 4 → 5 = 30 + 265 + 10.
    let edges = vec![(1, vec![]), (2, vec![]), (3, vec![1, 2]), (4, vec![2]), (5, vec![3, 4])];
    assert_eq!(critical_path(&edges, &spans), Chain { ops: vec![2, 4, 5], length: ms(305) });
    // Without the edge 5 → 4, the longest chain is 4 alone (265) against 1 → 3 → 5 (150).
    let edges = vec![(1, vec![]), (2, vec![]), (3, vec![1, 2]), (4, vec![2]), (5, vec![3])];
    assert_eq!(critical_path(&edges, &spans), Chain { ops: vec![2, 4], length: ms(295) });
    // Independent operations: the longest one.
    let edges = vec![(1, vec![]), (2, vec![])];
    assert_eq!(critical_path(&edges, &spans), Chain { ops: vec![1], length: ms(100) });
    // A cycle (never made by the executor) ends instead of looping.
    let edges = vec![(1, vec![2]), (2, vec![1])];
    assert!(critical_path(&edges, &spans).length <= ms(130));
    assert_eq!(critical_path::<u8>(&[], &spans), Chain { ops: Vec::new(), length: ms(0) });
}
