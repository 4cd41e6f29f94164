//! `unitctl list-units [--all] [--state=…] [--type=…] [PATTERN...]`: systemctl's unit table (a `●` column for
//! failed or broken units, UNIT LOAD ACTIVE SUB [JOB] DESCRIPTION) and legend. Also the default verb.
//!
//! Filtering follows systemctl's `output_show_unit`: patterns and types first; then `--state` (matching the
//! load, active or sub state); without `--all`, units that follow another unit and inactive units without a
//! job are hidden.

use unitd_client::UnitListEntry;

use crate::context::{bus_failure, emit, Context};
use crate::render::render_table;
use crate::unit_name::{glob_match, is_glob, mangle, unit_type};

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// Globs (or names) the unit must match one of; empty: all.
    pub patterns: Vec<String>,
    /// Unit types (`service`, `target`); empty: all.
    pub types: Vec<String>,
    /// States (load, active or sub); empty: all.
    pub states: Vec<String>,
    /// `--all`.
    pub all: bool,
}

impl ListFilter {
    /// Whether `u` is listed.
    pub fn admits(&self, u: &UnitListEntry) -> bool {
        if !self.patterns.is_empty() && !self.patterns.iter().any(|p| glob_match(p, &u.id)) {
            return false;
        }
        if !self.types.is_empty() && !self.types.iter().any(|t| t == unit_type(&u.id)) {
            return false;
        }
        if !self.states.is_empty()
            && !self
                .states
                .iter()
                .any(|s| *s == u.load_state || *s == u.active_state || *s == u.sub_state)
        {
            return false;
        }
        if self.all {
            return true;
        }
        if !u.following.is_empty() {
            return false;
        }
        if !self.states.is_empty() || u.job_id > 0 {
            return true;
        }
        u.active_state != "inactive"
    }
}

/// `PATTERN` arguments: globs as given, plain names mangled (`hello` → `hello.service`).
pub fn patterns(args: &[String]) -> Vec<String> {
    args.iter()
        .map(|a| if is_glob(a) { a.clone() } else { mangle(a) })
        .collect()
}

/// systemctl's order: by type suffix, then by name, ignoring case.
pub fn sort_units(units: &mut [UnitListEntry]) {
    units.sort_by_key(|u| {
        let suffix =
            u.id.rfind('.')
                .map(|i| u.id[i..].to_lowercase())
                .unwrap_or_default();
        (suffix, u.id.to_lowercase())
    });
}

/// The table and, with `legend`, the footer.
pub fn render_list_units(units: &[&UnitListEntry], filter: &ListFilter, legend: bool) -> String {
    let jobs = units.iter().filter(|u| u.job_id != 0).count();
    let rows: Vec<Vec<String>> = units
        .iter()
        .map(|u| {
            let bad_load = matches!(
                u.load_state.as_str(),
                "error" | "not-found" | "bad-setting" | "masked"
            );
            let circle = if bad_load || u.active_state == "failed" {
                "●"
            } else {
                " "
            };
            let mut row = vec![
                circle.to_string(),
                u.id.clone(),
                u.load_state.clone(),
                u.active_state.clone(),
                u.sub_state.clone(),
            ];
            if jobs > 0 {
                row.push(if u.job_id != 0 {
                    u.job_type.clone()
                } else {
                    String::new()
                });
            }
            row.push(u.description.clone());
            row
        })
        .collect();
    let headers: &[&str] = if jobs > 0 {
        &["", "unit", "load", "active", "sub", "job", "description"]
    } else {
        &["", "unit", "load", "active", "sub", "description"]
    };
    let mut out = render_table(headers, &rows, legend);
    if !legend {
        return out;
    }
    let n = units.len();
    if n > 0 {
        out.push_str(
            "\nLOAD   = Reflects whether the unit definition was properly loaded.\n\
             ACTIVE = The high-level unit activation state, i.e. generalization of SUB.\n\
             SUB    = The low-level unit activation state, values depend on unit type.\n",
        );
        if jobs > 0 {
            out.push_str("JOB    = Pending job for the unit.\n\n");
        }
    }
    if filter.all || filter.states.iter().any(|s| s == "inactive") {
        out.push_str(&format!(
            "{n} loaded units listed.\n\
             To show all installed unit files use 'unitctl list-unit-files'.\n"
        ));
    } else if filter.states.is_empty() {
        out.push_str(&format!(
            "{n} loaded units listed. Pass --all to see loaded but inactive units, too.\n\
             To show all installed unit files use 'unitctl list-unit-files'.\n"
        ));
    } else {
        out.push_str(&format!("{n} loaded units listed.\n"));
    }
    out
}

/// `--state`/`--type` values: each may hold several, comma-separated.
pub fn split_list(raw: &[String]) -> Vec<String> {
    raw.iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let filter = ListFilter {
        patterns: patterns(args),
        types: split_list(&ctx.opts.types),
        states: split_list(&ctx.opts.states),
        all: ctx.opts.all,
    };
    let manager = ctx.manager().await?;
    let mut units = manager
        .list_units()
        .await
        .map_err(|e| bus_failure("Failed to list units", &e.into()))?;
    sort_units(&mut units);
    let shown: Vec<&UnitListEntry> = units.iter().filter(|u| filter.admits(u)).collect();
    emit(&render_list_units(&shown, &filter, !ctx.opts.no_legend))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use unitd_client::OwnedObjectPath;

    fn unit(id: &str, active: &str, sub: &str, job: u32) -> UnitListEntry {
        UnitListEntry {
            id: id.to_string(),
            description: format!("The {id}"),
            load_state: "loaded".to_string(),
            active_state: active.to_string(),
            sub_state: sub.to_string(),
            following: String::new(),
            unit_path: unitd_client::unit_object_path(id),
            job_id: job,
            job_type: if job > 0 {
                "start".into()
            } else {
                String::new()
            },
            job_path: OwnedObjectPath::default(),
        }
    }

    fn sample() -> Vec<UnitListEntry> {
        let mut v = vec![
            unit("web.service", "active", "running", 0),
            unit("flotilla.slice", "active", "active", 0),
            unit("Api.service", "failed", "failed", 0),
            unit("idle.service", "inactive", "dead", 0),
            unit("queued.service", "inactive", "dead", 7),
        ];
        sort_units(&mut v);
        v
    }

    #[test]
    fn default_listing() {
        let units = sample();
        let filter = ListFilter::default();
        let shown: Vec<&UnitListEntry> = units.iter().filter(|u| filter.admits(u)).collect();
        let want = [
            "  UNIT           LOAD   ACTIVE   SUB     JOB   DESCRIPTION",
            "● Api.service    loaded failed   failed        The Api.service",
            "  queued.service loaded inactive dead    start The queued.service",
            "  web.service    loaded active   running       The web.service",
            "  flotilla.slice loaded active   active        The flotilla.slice",
            "",
            "LOAD   = Reflects whether the unit definition was properly loaded.",
            "ACTIVE = The high-level unit activation state, i.e. generalization of SUB.",
            "SUB    = The low-level unit activation state, values depend on unit type.",
            "JOB    = Pending job for the unit.",
            "",
            "4 loaded units listed. Pass --all to see loaded but inactive units, too.",
            "To show all installed unit files use 'unitctl list-unit-files'.",
            "",
        ]
        .join("\n");
        assert_eq!(render_list_units(&shown, &filter, true), want);
    }

    #[test]
    fn filters() {
        let units = sample();
        let ids = |f: &ListFilter| -> Vec<String> {
            units
                .iter()
                .filter(|u| f.admits(u))
                .map(|u| u.id.clone())
                .collect()
        };
        let all = ListFilter {
            all: true,
            ..Default::default()
        };
        assert_eq!(ids(&all).len(), 5);
        let inactive = ListFilter {
            states: vec!["inactive".into()],
            ..Default::default()
        };
        assert_eq!(ids(&inactive), ["idle.service", "queued.service"]);
        let failed_sub = ListFilter {
            states: vec!["failed".into()],
            ..Default::default()
        };
        assert_eq!(ids(&failed_sub), ["Api.service"]);
        let slices = ListFilter {
            types: vec!["slice".into()],
            ..Default::default()
        };
        assert_eq!(ids(&slices), ["flotilla.slice"]);
        let pattern = ListFilter {
            patterns: patterns(&["w*".into(), "api".into()]),
            ..Default::default()
        };
        assert_eq!(ids(&pattern), ["web.service"]);
    }

    #[test]
    fn legend_variants() {
        let units = sample();
        let shown: Vec<&UnitListEntry> = units.iter().take(1).collect();
        let quiet = render_list_units(&shown, &ListFilter::default(), false);
        assert_eq!(
            quiet,
            "● Api.service loaded failed failed The Api.service\n"
        );
        let states = ListFilter {
            states: vec!["failed".into()],
            ..Default::default()
        };
        assert!(render_list_units(&shown, &states, true)
            .ends_with("depend on unit type.\n1 loaded units listed.\n"));
        let none = render_list_units(
            &[],
            &ListFilter {
                all: true,
                ..Default::default()
            },
            true,
        );
        assert_eq!(
            none,
            " UNIT LOAD ACTIVE SUB DESCRIPTION\n0 loaded units listed.\n\
             To show all installed unit files use 'unitctl list-unit-files'.\n"
        );
        assert_eq!(split_list(&["a,b".into(), "c".into()]), ["a", "b", "c"]);
    }
}
