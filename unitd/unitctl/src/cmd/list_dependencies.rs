//! `unitctl list-dependencies [--reverse|--after|--before] [--all] [--plain] [--type=…] [--state=…] [UNIT...]`:
//! systemctl's dependency tree. Each unit (default: `default.target`) is printed, then what it pulls in —
//! `Requires`, `Requisite`, `Wants`, `ConsistsOf`, `BindsTo` from unitd's unit properties — one line per
//! dependency with its state glyph (`●` active, `○` inactive, `×` failed) and tree branches, targets last, the
//! rest by name. Targets are expanded; other units only with `--all`. `--reverse` follows `RequiredBy`,
//! `RequisiteOf`, `WantedBy`, `PartOf`, `BoundBy` instead, `--after`/`--before` the ordering. A unit already on
//! the path is shown as `...` (a cycle). `--plain` (and `--type`/`--state`, which cannot keep the tree) lists
//! the units indented, without glyphs or branches, and expands each unit only once.
//!
//! The reachable part of the graph is read from unitd first ([`collect`]); the tree is drawn from it by the
//! pure [`render`], as systemctl-list-dependencies.c draws it.

use std::collections::HashMap;

use crate::cmd::list_units::split_list;
use crate::cmd::status::state_glyph;
use crate::context::{emit, Context};
use crate::error::Failure;
use crate::props::PropValue;
use crate::unit_name::unit_type;
use crate::units::{expand_names, find_unit, get_all, UNIT_IFACE};

/// Which edges the tree follows (systemctl's `--reverse`, `--after`, `--before`; forward by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Direction {
    #[default]
    Forward,
    Reverse,
    After,
    Before,
}

impl Direction {
    /// The unit properties whose names make the edges, as systemctl's `unit_get_dependencies` reads them.
    pub fn properties(self) -> &'static [&'static str] {
        match self {
            Direction::Forward => &[
                "Requires",
                "Requisite",
                "Wants",
                "ConsistsOf",
                "BindsTo",
                "Upholds",
            ],
            Direction::Reverse => &[
                "RequiredBy",
                "RequisiteOf",
                "WantedBy",
                "PartOf",
                "BoundBy",
                "UpheldBy",
            ],
            Direction::After => &["After"],
            Direction::Before => &["Before"],
        }
    }
}

/// What the tree is drawn from: each unit's edges in the chosen direction and its states.
#[derive(Debug, Default)]
pub struct Graph {
    pub edges: HashMap<String, Vec<String>>,
    pub states: HashMap<String, States>,
}

/// A unit's states, for the glyph and for `--state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct States {
    pub active: String,
    pub load: String,
    pub sub: String,
}

impl States {
    /// What systemd reports for a unit it does not have.
    fn unknown() -> States {
        States {
            active: "inactive".into(),
            load: "not-found".into(),
            sub: "dead".into(),
        }
    }
}

/// How the tree is drawn.
#[derive(Debug, Clone, Default)]
pub struct Style {
    /// Expand every unit, not only targets.
    pub all: bool,
    /// No tree: the units indented, each expanded only once.
    pub plain: bool,
    /// Only units of these types (`service`, `target`); forces `plain`.
    pub types: Vec<String>,
    /// Only units in one of these active, load or sub states; forces `plain`.
    pub states: Vec<String>,
}

fn is_target(name: &str) -> bool {
    unit_type(name) == "target"
}

/// Targets after everything else, then by name ignoring case (systemctl's `list_dependencies_compare`).
fn sorted(deps: &[String]) -> Vec<String> {
    let mut deps = deps.to_vec();
    deps.sort_by(|a, b| {
        is_target(a)
            .cmp(&is_target(b))
            .then_with(|| a.to_lowercase().cmp(&b.to_lowercase()))
    });
    deps
}

/// One line's tree part: a `│ ` or two spaces for each open level above, then `├─` or `└─` (`last`), then
/// the name; just the name when plain.
fn line(out: &mut String, name: &str, level: usize, branches: u64, last: bool, plain: bool) {
    if !plain {
        for i in (0..level).rev() {
            out.push_str(if branches & (1 << i) != 0 {
                "│ "
            } else {
                "  "
            });
        }
        out.push_str(if last { "└─" } else { "├─" });
    }
    out.push_str(name);
    out.push('\n');
}

/// The whole output for `roots`, blank lines between them.
pub fn render(roots: &[String], graph: &Graph, style: &Style) -> String {
    let plain = style.plain || !style.types.is_empty() || !style.states.is_empty();
    let mut out = String::new();
    let mut path = Vec::new();
    for (i, root) in roots.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(root);
        out.push('\n');
        one(&mut out, graph, style, plain, root, 0, &mut path, 0);
    }
    out
}

/// `list_dependencies_one`: the dependencies of `name` at `level`; `path` holds the units above it (when plain,
/// every unit shown so far), `branches` which levels above still have siblings to come.
#[allow(clippy::too_many_arguments)]
fn one(
    out: &mut String,
    graph: &Graph,
    style: &Style,
    plain: bool,
    name: &str,
    level: usize,
    path: &mut Vec<String>,
    branches: u64,
) {
    path.push(name.to_string());
    let deps = sorted(graph.edges.get(name).map_or(&[][..], Vec::as_slice));
    for (i, dep) in deps.iter().enumerate() {
        let last = i + 1 == deps.len();
        let below = (branches << 1) | u64::from(!last);
        if path.contains(dep) {
            if !plain {
                out.push_str("  ");
                line(out, "...", level + 1, below, true, false);
            }
            continue;
        }
        if !style.types.is_empty() && !style.types.iter().any(|t| t == unit_type(dep)) {
            continue;
        }
        let states = graph
            .states
            .get(dep)
            .cloned()
            .unwrap_or_else(States::unknown);
        if !style.states.is_empty()
            && !style
                .states
                .iter()
                .any(|s| *s == states.active || *s == states.load || *s == states.sub)
        {
            continue;
        }
        if plain {
            out.push_str("  ");
        } else {
            out.push_str(state_glyph(&states.active));
            out.push(' ');
        }
        line(out, dep, level, branches, last, plain);
        if style.all || is_target(dep) {
            one(out, graph, style, plain, dep, level + 1, path, below);
        }
    }
    if !plain {
        path.pop();
    }
}

/// Reads from unitd every unit the tree can reach from `roots`: its edges in `direction` and its states. A
/// unit unitd does not have is inactive with no edges, as systemd shows one.
pub async fn collect(
    ctx: &Context,
    roots: &[String],
    direction: Direction,
    all: bool,
) -> Result<Graph, Failure> {
    let mut graph = Graph::default();
    let mut todo: Vec<(String, bool)> = roots.iter().map(|r| (r.clone(), true)).collect();
    while let Some((name, expand)) = todo.pop() {
        if graph.states.contains_key(&name) && (!expand || graph.edges.contains_key(&name)) {
            continue;
        }
        let Some(path) = find_unit(ctx, &name).await? else {
            graph.states.insert(name, States::unknown());
            continue;
        };
        let props = get_all(ctx, &path, UNIT_IFACE).await?;
        let text = |key: &str| {
            props
                .get(key)
                .and_then(PropValue::as_str)
                .unwrap_or_default()
                .to_string()
        };
        graph.states.insert(
            name.clone(),
            States {
                active: text("ActiveState"),
                load: text("LoadState"),
                sub: text("SubState"),
            },
        );
        if !expand {
            continue;
        }
        let mut deps: Vec<String> = Vec::new();
        for key in direction.properties() {
            if let Some(PropValue::Strings(list)) = props.get(*key) {
                for d in list {
                    if !deps.contains(d) {
                        deps.push(d.clone());
                    }
                }
            }
        }
        for d in &deps {
            todo.push((d.clone(), all || is_target(d)));
        }
        graph.edges.insert(name, deps);
    }
    Ok(graph)
}

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let roots = if args.is_empty() {
        vec!["default.target".to_string()]
    } else {
        expand_names(ctx, args).await?
    };
    let graph = collect(ctx, &roots, ctx.opts.dependency, ctx.opts.all).await?;
    let style = Style {
        all: ctx.opts.all,
        plain: ctx.opts.plain,
        types: split_list(&ctx.opts.types),
        states: split_list(&ctx.opts.states),
    };
    emit(&render(&roots, &graph, &style))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])], states: &[(&str, &str)]) -> Graph {
        Graph {
            edges: edges
                .iter()
                .map(|(u, d)| (u.to_string(), d.iter().map(|s| s.to_string()).collect()))
                .collect(),
            states: states
                .iter()
                .map(|(u, a)| {
                    (
                        u.to_string(),
                        States {
                            active: a.to_string(),
                            load: "loaded".into(),
                            sub: if *a == "active" { "running" } else { "dead" }.into(),
                        },
                    )
                })
                .collect(),
        }
    }

    fn roots(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn targets_are_expanded_last_and_branches_line_up() {
        let g = graph(
            &[
                (
                    "default.target",
                    &["multi-user.target", "web.service", "Api.service"],
                ),
                ("multi-user.target", &["db.service", "net.target"]),
                ("net.target", &["dhcp.service"]),
                ("web.service", &["db.service"]),
            ],
            &[
                ("multi-user.target", "active"),
                ("web.service", "active"),
                ("Api.service", "failed"),
                ("db.service", "inactive"),
                ("net.target", "active"),
                ("dhcp.service", "active"),
            ],
        );
        assert_eq!(
            render(&roots(&["default.target"]), &g, &Style::default()),
            "default.target\n\
             × ├─Api.service\n\
             ● ├─web.service\n\
             ● └─multi-user.target\n\
             ○   ├─db.service\n\
             ●   └─net.target\n\
             ●     └─dhcp.service\n"
        );
        // --all expands services too; a unit not on the path is shown again where it recurs.
        let all = Style {
            all: true,
            ..Style::default()
        };
        let out = render(&roots(&["default.target"]), &g, &all);
        assert!(
            out.contains("● ├─web.service\n○ │ └─db.service\n● └─multi-user.target\n"),
            "{out}"
        );
    }

    #[test]
    fn a_cycle_is_cut_with_dots() {
        let g = graph(
            &[("a.target", &["b.target"]), ("b.target", &["a.target"])],
            &[("a.target", "active"), ("b.target", "active")],
        );
        assert_eq!(
            render(&roots(&["a.target"]), &g, &Style::default()),
            "a.target\n● └─b.target\n      └─...\n"
        );
    }

    #[test]
    fn plain_and_filters_list_each_unit_once_without_glyphs() {
        let g = graph(
            &[
                ("default.target", &["a.service", "x.target"]),
                ("x.target", &["a.service", "b.service"]),
            ],
            &[
                ("a.service", "active"),
                ("b.service", "inactive"),
                ("x.target", "active"),
            ],
        );
        let plain = Style {
            plain: true,
            ..Style::default()
        };
        // A unit is skipped once it was expanded; one that was only listed (a service, without --all) is listed
        // again, as systemctl does.
        assert_eq!(
            render(&roots(&["default.target"]), &g, &plain),
            "default.target\n  a.service\n  x.target\n  a.service\n  b.service\n"
        );
        let plain_all = Style {
            plain: true,
            all: true,
            ..Style::default()
        };
        assert_eq!(
            render(&roots(&["default.target"]), &g, &plain_all),
            "default.target\n  a.service\n  x.target\n  b.service\n"
        );
        let services = Style {
            types: vec!["service".into()],
            ..Style::default()
        };
        // The target is filtered out of the listing, so what it pulls in is not reached.
        assert_eq!(
            render(&roots(&["default.target"]), &g, &services),
            "default.target\n  a.service\n"
        );
        let inactive = Style {
            states: vec!["inactive".into()],
            all: true,
            ..Style::default()
        };
        assert_eq!(
            render(&roots(&["x.target"]), &g, &inactive),
            "x.target\n  b.service\n"
        );
    }

    #[test]
    fn roots_are_separated_and_unknown_units_are_inactive() {
        let g = graph(&[("a.service", &["gone.service"])], &[]);
        assert_eq!(
            render(&roots(&["a.service", "b.service"]), &g, &Style::default()),
            "a.service\n○ └─gone.service\n\nb.service\n"
        );
    }

    #[test]
    fn each_direction_reads_systemctls_properties() {
        assert!(Direction::Forward.properties().contains(&"ConsistsOf"));
        assert!(Direction::Reverse.properties().contains(&"WantedBy"));
        assert!(Direction::Reverse.properties().contains(&"PartOf"));
        assert_eq!(Direction::After.properties(), ["After"]);
        assert_eq!(Direction::Before.properties(), ["Before"]);
    }
}
