//! Minimum-cost assignment with a cost limit (a pair at or above the limit is never matched; a
//! row or column may stay unmatched at half the limit each, as `lapjv`'s `cost_limit` does).

const BIG: f64 = 1e12;

/// Rows × columns costs, row-major. Returns matched `(row, column)` pairs.
pub fn assign(costs: &[Vec<f64>], limit: f64) -> Vec<(usize, usize)> {
    let rows = costs.len();
    let cols = costs.first().map_or(0, Vec::len);
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    let n = rows + cols;
    let half = limit / 2.0;
    let cost = |i: usize, j: usize| -> f64 {
        match (i < rows, j < cols) {
            (true, true) => {
                let c = costs[i].get(j).copied().unwrap_or(f64::INFINITY);
                if c.is_finite() && c < limit {
                    c
                } else {
                    BIG
                }
            }
            (true, false) => {
                if j - cols == i {
                    half
                } else {
                    BIG
                }
            }
            (false, true) => {
                if i - rows == j {
                    half
                } else {
                    BIG
                }
            }
            (false, false) => 0.0,
        }
    };
    // Hungarian method with potentials, O(n³), 1-based as in the classic formulation.
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; n + 1];
    let mut p = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0usize;
        let mut minv = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0usize;
            for j in 1..=n {
                if !used[j] {
                    let cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = Vec::new();
    for (j, &i) in p.iter().enumerate().take(cols + 1).skip(1) {
        if i >= 1 && i <= rows && cost(i - 1, j - 1) < BIG {
            out.push((i - 1, j - 1));
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn picks_the_cheapest_total() {
        let c = vec![vec![0.1, 0.2], vec![0.15, 0.9]];
        assert_eq!(assign(&c, 1.0), vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn respects_the_limit() {
        let c = vec![vec![0.9, 0.95], vec![0.2, 0.99]];
        assert_eq!(assign(&c, 0.8), vec![(1, 0)]);
        assert!(assign(&[], 1.0).is_empty());
        assert!(assign(&[vec![]], 1.0).is_empty());
        let wide = vec![vec![0.5, 0.1, 0.7]];
        assert_eq!(assign(&wide, 1.0), vec![(0, 1)]);
    }

    fn brute(c: &[Vec<f64>], limit: f64) -> f64 {
        // Every partial matching, costed as the solver defines it.
        fn rec(
            c: &[Vec<f64>],
            limit: f64,
            i: usize,
            used: &mut Vec<bool>,
            acc: f64,
            best: &mut f64,
        ) {
            if i == c.len() {
                let unmatched_cols = used.iter().filter(|u| !**u).count() as f64;
                *best = best.min(acc + unmatched_cols * limit / 2.0);
                return;
            }
            rec(c, limit, i + 1, used, acc + limit / 2.0, best);
            for j in 0..used.len() {
                if !used[j] && c[i][j] < limit {
                    used[j] = true;
                    rec(c, limit, i + 1, used, acc + c[i][j], best);
                    used[j] = false;
                }
            }
        }
        let mut best = f64::INFINITY;
        rec(c, limit, 0, &mut vec![false; c[0].len()], 0.0, &mut best);
        best
    }

    proptest! {
        #[test]
        fn optimal_against_brute_force(r in 1usize..5, k in 1usize..5, seed in proptest::collection::vec(0.0f64..1.0, 25)) {
            let c: Vec<Vec<f64>> = (0..r).map(|i| (0..k).map(|j| seed[i * 5 + j]).collect()).collect();
            let limit = 0.6;
            let m = assign(&c, limit);
            let total = m.iter().map(|&(i, j)| c[i][j]).sum::<f64>()
                + (r - m.len()) as f64 * limit / 2.0 + (k - m.len()) as f64 * limit / 2.0;
            prop_assert!((total - brute(&c, limit)).abs() < 1e-9, "{} vs {}", total, brute(&c, limit));
            prop_assert!(m.iter().all(|&(i, j)| c[i][j] < limit));
        }
    }
}
