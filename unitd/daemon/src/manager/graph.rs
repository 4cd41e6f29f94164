//! The unit graph as systemd's D-Bus API shows it: every dependency a unit declares (its `[Unit]` section plus the
//! `.wants/`/`.requires/` links enabling made) and, on the unit at the other end, its inverse — `Wants=` on one
//! side is `WantedBy` on the other, `Before=` is `After`, `PartOf=` is `ConsistsOf`, and so on, as systemd's
//! `unit_add_dependency` records both directions. `systemctl show -p WantedBy` and `list-dependencies
//! --reverse` read the inverse lists; nothing here decides what a job does.
//!
//! Pure: edges in, per-unit lists out, so the manager can rebuild it after any change and publish the units
//! whose lists moved.

use std::collections::BTreeMap;

use super::unit::DepKind;

/// Every dependency list of one unit, each sorted and without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitDeps {
    pub requires: Vec<String>,
    pub requisite: Vec<String>,
    pub wants: Vec<String>,
    pub binds_to: Vec<String>,
    pub part_of: Vec<String>,
    pub conflicts: Vec<String>,
    pub before: Vec<String>,
    pub after: Vec<String>,
    pub required_by: Vec<String>,
    pub requisite_of: Vec<String>,
    pub wanted_by: Vec<String>,
    pub bound_by: Vec<String>,
    pub consists_of: Vec<String>,
    pub conflicted_by: Vec<String>,
    pub on_failure: Vec<String>,
    pub on_failure_of: Vec<String>,
    pub on_success: Vec<String>,
    pub on_success_of: Vec<String>,
    pub upholds: Vec<String>,
    pub upheld_by: Vec<String>,
}

impl UnitDeps {
    /// The list a declared dependency of `kind` goes into on the declaring unit.
    fn forward(&mut self, kind: DepKind) -> &mut Vec<String> {
        match kind {
            DepKind::Requires => &mut self.requires,
            DepKind::Requisite => &mut self.requisite,
            DepKind::Wants => &mut self.wants,
            DepKind::BindsTo => &mut self.binds_to,
            DepKind::PartOf => &mut self.part_of,
            DepKind::Conflicts => &mut self.conflicts,
            DepKind::Before => &mut self.before,
            DepKind::After => &mut self.after,
            DepKind::OnFailure => &mut self.on_failure,
            DepKind::OnSuccess => &mut self.on_success,
            DepKind::Upholds => &mut self.upholds,
        }
    }

    /// The list its inverse goes into on the unit depended on.
    fn inverse(&mut self, kind: DepKind) -> &mut Vec<String> {
        match kind {
            DepKind::Requires => &mut self.required_by,
            DepKind::Requisite => &mut self.requisite_of,
            DepKind::Wants => &mut self.wanted_by,
            DepKind::BindsTo => &mut self.bound_by,
            DepKind::PartOf => &mut self.consists_of,
            DepKind::Conflicts => &mut self.conflicted_by,
            DepKind::Before => &mut self.after,
            DepKind::After => &mut self.before,
            DepKind::OnFailure => &mut self.on_failure_of,
            DepKind::OnSuccess => &mut self.on_success_of,
            DepKind::Upholds => &mut self.upheld_by,
        }
    }

    fn lists(&mut self) -> [&mut Vec<String>; 20] {
        [
            &mut self.requires,
            &mut self.requisite,
            &mut self.wants,
            &mut self.binds_to,
            &mut self.part_of,
            &mut self.conflicts,
            &mut self.before,
            &mut self.after,
            &mut self.required_by,
            &mut self.requisite_of,
            &mut self.wanted_by,
            &mut self.bound_by,
            &mut self.consists_of,
            &mut self.conflicted_by,
            &mut self.on_failure,
            &mut self.on_failure_of,
            &mut self.on_success,
            &mut self.on_success_of,
            &mut self.upholds,
            &mut self.upheld_by,
        ]
    }
}

/// Every dependency kind a unit can declare.
pub const KINDS: [DepKind; 11] = [
    DepKind::Requires,
    DepKind::Requisite,
    DepKind::Wants,
    DepKind::BindsTo,
    DepKind::PartOf,
    DepKind::Conflicts,
    DepKind::Before,
    DepKind::After,
    DepKind::OnFailure,
    DepKind::OnSuccess,
    DepKind::Upholds,
];

/// The graph of the declared edges `(from, kind, to)`: an entry for every unit named at either end. A unit that
/// names itself gets no edge (systemd drops those too).
pub fn build<I>(edges: I) -> BTreeMap<String, UnitDeps>
where
    I: IntoIterator<Item = (String, DepKind, String)>,
{
    let mut graph: BTreeMap<String, UnitDeps> = BTreeMap::new();
    for (from, kind, to) in edges {
        if from == to {
            continue;
        }
        graph
            .entry(from.clone())
            .or_default()
            .forward(kind)
            .push(to.clone());
        graph.entry(to).or_default().inverse(kind).push(from);
    }
    for deps in graph.values_mut() {
        for list in deps.lists() {
            list.sort();
            list.dedup();
        }
    }
    graph
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(from: &str, kind: DepKind, to: &str) -> (String, DepKind, String) {
        (from.to_string(), kind, to.to_string())
    }

    fn names(list: &[String]) -> Vec<&str> {
        list.iter().map(String::as_str).collect()
    }

    #[test]
    fn each_declared_edge_has_its_inverse_on_the_other_unit() {
        let g = build([
            edge("multi-user.target", DepKind::Wants, "web.service"),
            edge("web.service", DepKind::Requires, "db.service"),
            edge("web.service", DepKind::After, "db.service"),
            edge("web.service", DepKind::BindsTo, "net.service"),
            edge("web.service", DepKind::PartOf, "app.target"),
            edge("web.service", DepKind::Requisite, "disk.service"),
            edge("web.service", DepKind::Conflicts, "old-web.service"),
            edge("db.service", DepKind::Before, "backup.service"),
            edge(
                "web.service",
                DepKind::OnFailure,
                "alert@web.service.service",
            ),
            edge("web.service", DepKind::Upholds, "cache.service"),
        ]);
        assert_eq!(names(&g["cache.service"].upheld_by), ["web.service"]);
        assert_eq!(names(&g["web.service"].upholds), ["cache.service"]);
        let web = &g["web.service"];
        assert_eq!(names(&web.wanted_by), ["multi-user.target"]);
        assert_eq!(names(&web.requires), ["db.service"]);
        assert_eq!(names(&web.after), ["db.service"]);
        let db = &g["db.service"];
        assert_eq!(names(&db.required_by), ["web.service"]);
        // After= on web is Before on db, next to db's own Before=.
        assert_eq!(names(&db.before), ["backup.service", "web.service"]);
        assert_eq!(names(&g["backup.service"].after), ["db.service"]);
        assert_eq!(names(&g["net.service"].bound_by), ["web.service"]);
        assert_eq!(names(&g["app.target"].consists_of), ["web.service"]);
        assert_eq!(names(&g["disk.service"].requisite_of), ["web.service"]);
        assert_eq!(names(&g["old-web.service"].conflicted_by), ["web.service"]);
        assert_eq!(names(&g["multi-user.target"].wants), ["web.service"]);
        assert_eq!(names(&web.on_failure), ["alert@web.service.service"]);
        assert_eq!(
            names(&g["alert@web.service.service"].on_failure_of),
            ["web.service"]
        );
        assert!(g["multi-user.target"].wanted_by.is_empty());
    }

    #[test]
    fn lists_are_sorted_once_and_self_references_dropped() {
        let g = build([
            edge("b.target", DepKind::Wants, "x.service"),
            edge("a.target", DepKind::Wants, "x.service"),
            // Declared in [Unit] and again through a .wants/ link.
            edge("a.target", DepKind::Wants, "x.service"),
            edge("x.service", DepKind::After, "x.service"),
        ]);
        assert_eq!(names(&g["x.service"].wanted_by), ["a.target", "b.target"]);
        assert_eq!(names(&g["a.target"].wants), ["x.service"]);
        assert!(g["x.service"].after.is_empty() && g["x.service"].before.is_empty());
    }
}
