//! Pareto frontiers: the candidates no other candidate beats on both axes at once.

/// Indices of the points on the frontier of "lower `cost` is better, higher `value` is better",
/// sorted by cost. A point is on it when no other point has cost ≤ and value ≥ with at least
/// one strict; identical points are all on it. Points with a NaN are never on it.
pub fn frontier(points: &[(f64, f64)]) -> Vec<usize> {
    let ok = |p: &(f64, f64)| !p.0.is_nan() && !p.1.is_nan();
    let dominated = |i: usize| {
        let (ci, vi) = points[i];
        points
            .iter()
            .any(|&(c, v)| ok(&(c, v)) && c <= ci && v >= vi && (c < ci || v > vi))
    };
    let mut on: Vec<usize> = (0..points.len())
        .filter(|&i| ok(&points[i]) && !dominated(i))
        .collect();
    on.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0).then(a.cmp(&b)));
    on
}
