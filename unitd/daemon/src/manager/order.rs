//! Job ordering, a pure function over the transaction: which job waits for which (After=/Before= between the
//! jobs' units, stops before starts) and ordering cycles, reported with the settings that form them.

use std::collections::HashMap;

/// Start-like (start, restart, reload) or stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Start,
    Stop,
}

/// One ordering edge: `unit` is ordered after `after` because of the setting at `place` ("file:line").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEdge {
    pub unit: String,
    pub after: String,
    pub place: String,
}

/// A cycle of ordering edges, in order; the last edge leads back to the first unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle(pub Vec<OrderEdge>);

impl std::fmt::Display for Cycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ordering cycle found: ")?;
        for (i, edge) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{} is after {} ({})", edge.unit, edge.after, edge.place)?;
        }
        Ok(())
    }
}

/// For jobs `(unit, direction)`, returns for each job the indices of the jobs it waits for, or the first cycle.
///
/// Rules (systemd.unit(5), After=): if A is after B and both start, A's job waits for B's; if both stop, B's waits
/// for A's; if one starts and the other stops, the stop goes first whichever way the ordering points.
pub fn order(jobs: &[(String, Direction)], edges: &[OrderEdge]) -> Result<Vec<Vec<usize>>, Cycle> {
    let index: HashMap<&str, usize> = jobs
        .iter()
        .enumerate()
        .map(|(i, (u, _))| (u.as_str(), i))
        .collect();
    let mut waits: Vec<Vec<usize>> = vec![Vec::new(); jobs.len()];
    // Which edge produced "i waits for j", to report cycles.
    let mut why: HashMap<(usize, usize), &OrderEdge> = HashMap::new();
    for edge in edges {
        let (Some(&a), Some(&b)) = (
            index.get(edge.unit.as_str()),
            index.get(edge.after.as_str()),
        ) else {
            continue;
        };
        if a == b {
            continue;
        }
        let (waiter, first) = match (jobs[a].1, jobs[b].1) {
            (Direction::Start, Direction::Start) => (a, b),
            (Direction::Stop, Direction::Stop) => (b, a),
            (Direction::Start, Direction::Stop) => (a, b),
            (Direction::Stop, Direction::Start) => (b, a),
        };
        if !waits[waiter].contains(&first) {
            waits[waiter].push(first);
            why.insert((waiter, first), edge);
        }
    }
    if let Some(cycle) = unitfile::find_cycle(&waits) {
        let edges = cycle
            .windows(2)
            .filter_map(|w| why.get(&(w[0], w[1])).map(|e| (*e).clone()))
            .collect();
        return Err(Cycle(edges));
    }
    Ok(waits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(unit: &str, after: &str) -> OrderEdge {
        OrderEdge {
            unit: unit.into(),
            after: after.into(),
            place: format!("{unit}:1"),
        }
    }

    fn jobs(list: &[(&str, Direction)]) -> Vec<(String, Direction)> {
        list.iter().map(|(u, d)| (u.to_string(), *d)).collect()
    }

    #[test]
    fn starts_follow_after_and_stops_run_in_reverse() {
        let j = jobs(&[("web", Direction::Start), ("db", Direction::Start)]);
        assert_eq!(
            order(&j, &[edge("web", "db")]).unwrap(),
            vec![vec![1], vec![]]
        );
        let j = jobs(&[("web", Direction::Stop), ("db", Direction::Stop)]);
        assert_eq!(
            order(&j, &[edge("web", "db")]).unwrap(),
            vec![vec![], vec![0]]
        );
    }

    #[test]
    fn a_stop_goes_before_a_start_either_way() {
        let j = jobs(&[("web", Direction::Start), ("db", Direction::Stop)]);
        assert_eq!(
            order(&j, &[edge("db", "web")]).unwrap(),
            vec![vec![1], vec![]]
        );
    }

    #[test]
    fn cycles_are_reported_with_their_settings() {
        let j = jobs(&[
            ("a", Direction::Start),
            ("b", Direction::Start),
            ("c", Direction::Start),
        ]);
        let err = order(&j, &[edge("a", "b"), edge("b", "c"), edge("c", "a")]).unwrap_err();
        assert_eq!(err.0.len(), 3);
        let text = err.to_string();
        assert!(text.contains("a is after b (a:1)"), "{text}");
        assert!(text.contains("c is after a (c:1)"), "{text}");
    }

    #[test]
    fn edges_to_units_without_jobs_are_ignored() {
        let j = jobs(&[("a", Direction::Start)]);
        assert_eq!(
            order(&j, &[edge("a", "zzz")]).unwrap(),
            vec![Vec::<usize>::new()]
        );
    }
}
