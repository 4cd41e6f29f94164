//! Cycle detection in dependency graphs, shared by `verify` (ordering cycles among the files it checks) and
//! unitd's job ordering (cycles in a transaction).

/// The first cycle of a directed graph given as adjacency lists (`edges[n]` = the nodes `n` points to), as a
/// node path that starts and ends at the same node; None when the graph is acyclic.
pub fn find_cycle(waits: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let mut mark = vec![Mark::New; waits.len()];
    let mut stack: Vec<usize> = Vec::new();
    fn visit(
        n: usize,
        waits: &[Vec<usize>],
        mark: &mut [Mark],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        mark[n] = Mark::OnStack;
        stack.push(n);
        for &m in &waits[n] {
            match mark[m] {
                Mark::OnStack => {
                    let start = stack.iter().position(|&x| x == m).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(m);
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(m, waits, mark, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        mark[n] = Mark::Done;
        None
    }
    for n in 0..waits.len() {
        if mark[n] == Mark::New {
            if let Some(c) = visit(n, waits, &mut mark, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::find_cycle;

    #[test]
    fn finds_a_cycle_and_only_a_cycle() {
        assert_eq!(find_cycle(&[vec![1], vec![2], vec![]]), None);
        assert_eq!(
            find_cycle(&[vec![1], vec![2], vec![0]]),
            Some(vec![0, 1, 2, 0])
        );
        assert_eq!(find_cycle(&[vec![], vec![1]]), Some(vec![1, 1]));
        // A diamond is not a cycle.
        assert_eq!(find_cycle(&[vec![1, 2], vec![3], vec![3], vec![]]), None);
    }
}
