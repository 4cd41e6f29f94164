//! `unitctl enable [--now] [--runtime] [--force] [--no-reload] UNIT...`: `EnableUnitFiles`, then prints the
//! symlinks made (`Created symlink A → B.`, on stderr like systemctl's log), daemon-reloads, and with `--now`
//! starts the units.

use unitd_client::{UnitAction, UnitFileChange};

use crate::context::{emit_err, Context};
use crate::error::{code, Failure};
use crate::unit_name::mangle;

/// What systemctl says when none of the units has an `[Install]` section.
pub const NO_INSTALL_INFO: &str = "\
The unit files have no installation config (WantedBy=, RequiredBy=, Also=,
Alias= settings in the [Install] section, and DefaultInstance= for template
units). This means they are not meant to be enabled or disabled using unitctl.

Possible reasons for having these kinds of units are:
• A unit may be statically enabled by being symlinked from another unit's
  .wants/ or .requires/ directory.
• A unit's purpose may be to act as a helper for some other unit which has
  a requirement dependency on it.
• A unit may be started when needed via activation (socket, path, timer,
  D-Bus, udev, scripted systemctl call, ...).
• In case of template units, the unit is meant to be enabled with some
  instance name specified.
";

/// systemd's `install_changes_dump` lines for the changes made.
pub fn render_changes(changes: &[UnitFileChange]) -> String {
    let mut out = String::new();
    for c in changes {
        match c.change_type.as_str() {
            "symlink" => out.push_str(&format!(
                "Created symlink {} → {}.\n",
                c.file, c.destination
            )),
            "unlink" => out.push_str(&format!("Removed \"{}\".\n", c.file)),
            other => out
                .push_str(&format!("{other}: {} {}\n", c.file, c.destination).replace(" \n", "\n")),
        }
    }
    out
}

/// Unit-file arguments: paths stay as they are, names are mangled.
pub fn unit_file_args(args: &[String]) -> Vec<String> {
    args.iter()
        .map(|a| {
            if a.contains('/') {
                a.clone()
            } else {
                mangle(a)
            }
        })
        .collect()
}

/// `Reload()` after changing symlinks, unless `--no-reload`.
pub async fn reload_after_change(ctx: &Context) -> Result<(), Failure> {
    if ctx.opts.no_reload {
        return Ok(());
    }
    let manager = ctx.manager().await?;
    manager.reload().await.map_err(|e| {
        Failure::error(format!(
            "Failed to reload daemon: {}",
            unitd_client::ClientError::from(e)
        ))
    })
}

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let files = unit_file_args(args);
    let refs: Vec<&str> = files.iter().map(String::as_str).collect();
    let manager = ctx.manager().await?;
    let (carries_install_info, changes) = manager
        .enable_unit_files(&refs, ctx.opts.runtime, ctx.opts.force)
        .await
        .map_err(|e| failed(e, "enable"))?;
    let note = (!carries_install_info).then_some(NO_INSTALL_INFO);
    after_change(ctx, &changes, note, Some(UnitAction::Start), &files).await
}

/// What the unit-file verbs (enable, disable, mask, unmask) do once the links changed: print the changes and
/// `note` (unless `--quiet`), daemon-reload (unless `--no-reload`), and with `--now` run `now` (if the verb has
/// one) on the units.
pub async fn after_change(
    ctx: &Context,
    changes: &[UnitFileChange],
    note: Option<&str>,
    now: Option<UnitAction>,
    files: &[String],
) -> anyhow::Result<()> {
    if !ctx.opts.quiet {
        emit_err(&render_changes(changes));
        if let Some(note) = note {
            emit_err(note);
        }
    }
    reload_after_change(ctx).await?;
    if let (true, Some(now)) = (ctx.opts.now, now) {
        let names: Vec<String> = files
            .iter()
            .map(|f| f.rsplit('/').next().unwrap_or(f).to_string())
            .collect();
        crate::jobs::run(ctx, now, &names).await?;
    }
    Ok(())
}

/// systemctl's "Failed to VERB unit: ..." for a refused change (the daemon's own messages may already start
/// that way: they are not prefixed twice).
pub fn failed(e: zbus::Error, verb: &str) -> Failure {
    let text = unitd_client::ClientError::from(e).to_string();
    let prefix = format!("Failed to {verb} unit: ");
    let message = if text.starts_with(&prefix) {
        text
    } else {
        format!("{prefix}{text}")
    };
    Failure::new(code::FAILURE, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(t: &str, file: &str, dest: &str) -> UnitFileChange {
        UnitFileChange {
            change_type: t.into(),
            file: file.into(),
            destination: dest.into(),
        }
    }

    #[test]
    fn change_lines() {
        assert_eq!(
            render_changes(&[
                change(
                    "symlink",
                    "/etc/unitd/system/multi-user.target.wants/hello.service",
                    "/etc/unitd/system/hello.service"
                ),
                change("unlink", "/etc/unitd/system/multi-user.target.wants/old.service", ""),
            ]),
            "Created symlink /etc/unitd/system/multi-user.target.wants/hello.service → /etc/unitd/system/hello.service.\n\
             Removed \"/etc/unitd/system/multi-user.target.wants/old.service\".\n"
        );
    }

    #[test]
    fn arguments() {
        assert_eq!(
            unit_file_args(&["hello".into(), "/tmp/x.service".into()]),
            ["hello.service", "/tmp/x.service"]
        );
    }
}
