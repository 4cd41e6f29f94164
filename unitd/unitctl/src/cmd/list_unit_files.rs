//! `unitctl list-unit-files [--state=…] [--type=…] [PATTERN...]`: the UNIT FILE / STATE table from
//! `ListUnitFiles` and `N unit files listed.`.

use unitd_client::UnitFileEntry;

use super::list_units::{patterns, split_list};
use crate::context::{bus_failure, emit, Context};
use crate::render::render_table;
use crate::unit_name::{glob_match, unit_type};

/// The file name of a unit file path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The listed entries: matching a pattern, type and state if given; sorted like systemctl (by type suffix,
/// then name, ignoring case).
pub fn select<'a>(
    files: &'a [UnitFileEntry],
    patterns: &[String],
    types: &[String],
    states: &[String],
) -> Vec<&'a UnitFileEntry> {
    let mut out: Vec<&UnitFileEntry> = files
        .iter()
        .filter(|f| {
            let name = file_name(&f.path);
            (patterns.is_empty() || patterns.iter().any(|p| glob_match(p, name)))
                && (types.is_empty() || types.iter().any(|t| t == unit_type(name)))
                && (states.is_empty() || states.contains(&f.state))
        })
        .collect();
    out.sort_by_key(|f| {
        let name = file_name(&f.path);
        let suffix = name
            .rfind('.')
            .map(|i| name[i..].to_lowercase())
            .unwrap_or_default();
        (suffix, name.to_lowercase())
    });
    out
}

/// The table and, with `legend`, its footer.
pub fn render_unit_files(files: &[&UnitFileEntry], legend: bool) -> String {
    let rows: Vec<Vec<String>> = files
        .iter()
        .map(|f| vec![file_name(&f.path).to_string(), f.state.clone()])
        .collect();
    let mut out = render_table(&["unit file", "state"], &rows, legend);
    if legend {
        out.push_str(&format!("\n{} unit files listed.\n", files.len()));
    }
    out
}

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let manager = ctx.manager().await?;
    let files = manager
        .list_unit_files()
        .await
        .map_err(|e| bus_failure("Failed to list unit files", &e.into()))?;
    let shown = select(
        &files,
        &patterns(args),
        &split_list(&ctx.opts.types),
        &split_list(&ctx.opts.states),
    );
    emit(&render_unit_files(&shown, !ctx.opts.no_legend))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, state: &str) -> UnitFileEntry {
        UnitFileEntry {
            path: path.to_string(),
            state: state.to_string(),
        }
    }

    #[test]
    fn table() {
        let files = vec![
            entry("/etc/unitd/system/web.service", "enabled"),
            entry("/usr/lib/unitd/system/flotilla.slice", "static"),
            entry("/etc/unitd/system/api.service", "disabled"),
        ];
        let shown = select(&files, &[], &[], &[]);
        assert_eq!(
            render_unit_files(&shown, true),
            "UNIT FILE      STATE\n\
             api.service    disabled\n\
             web.service    enabled\n\
             flotilla.slice static\n\
             \n3 unit files listed.\n"
        );
        let enabled = select(&files, &[], &[], &["enabled".into()]);
        assert_eq!(render_unit_files(&enabled, false), "web.service enabled\n");
        let slices = select(&files, &["*.slice".into()], &[], &[]);
        assert_eq!(slices.len(), 1);
        assert_eq!(select(&files, &[], &["service".into()], &[]).len(), 2);
    }
}
