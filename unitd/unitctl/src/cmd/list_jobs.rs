//! `unitctl list-jobs`: the JOB UNIT TYPE STATE table of queued jobs, `N jobs listed.`, or
//! `No jobs running.`.

use unitd_client::JobListEntry;

use crate::context::{bus_failure, emit, Context};
use crate::render::render_table;

/// The jobs table (by job id) with its footer when `legend`.
pub fn render_jobs(jobs: &[JobListEntry], legend: bool) -> String {
    if jobs.is_empty() {
        return if legend {
            "No jobs running.\n".to_string()
        } else {
            String::new()
        };
    }
    let mut sorted: Vec<&JobListEntry> = jobs.iter().collect();
    sorted.sort_by_key(|j| j.id);
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|j| {
            vec![
                j.id.to_string(),
                j.unit.clone(),
                j.job_type.clone(),
                j.state.clone(),
            ]
        })
        .collect();
    let mut out = render_table(&["job", "unit", "type", "state"], &rows, legend);
    if legend {
        out.push_str(&format!("\n{} jobs listed.\n", jobs.len()));
    }
    out
}

/// Runs the verb.
pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let manager = ctx.manager().await?;
    let jobs = manager
        .list_jobs()
        .await
        .map_err(|e| bus_failure("Failed to list jobs", &e.into()))?;
    emit(&render_jobs(&jobs, !ctx.opts.no_legend))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use unitd_client::OwnedObjectPath;

    fn job(id: u32, unit: &str, t: &str, state: &str) -> JobListEntry {
        JobListEntry {
            id,
            unit: unit.into(),
            job_type: t.into(),
            state: state.into(),
            job_path: OwnedObjectPath::default(),
            unit_path: OwnedObjectPath::default(),
        }
    }

    #[test]
    fn table_and_empty() {
        assert_eq!(render_jobs(&[], true), "No jobs running.\n");
        assert_eq!(render_jobs(&[], false), "");
        assert_eq!(
            render_jobs(
                &[
                    job(12, "web.service", "start", "waiting"),
                    job(3, "db.service", "start", "running"),
                ],
                true
            ),
            "JOB UNIT        TYPE  STATE\n\
             3   db.service  start running\n\
             12  web.service start waiting\n\
             \n2 jobs listed.\n"
        );
    }
}
