//! `unitctl cat UNIT...`: the unit file and its drop-ins (`FragmentPath`, `DropInPaths`), each after a
//! `# /path` header, read from the local filesystem like systemctl does.

use crate::context::{emit, emit_err, Context};
use crate::error::{code, Failure};
use crate::units::{expand_names, find_unit, get_all, UNIT_IFACE};

/// One unit's files as systemctl prints them: the fragment, then the drop-ins with a blank line before the
/// first one. Each content gets a final newline if it lacks one.
pub fn render_cat(fragment: Option<(&str, &str)>, dropins: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut file = |path: &str, content: &str, newline: bool| {
        if newline {
            out.push('\n');
        }
        out.push_str(&format!("# {path}\n"));
        out.push_str(content);
        if !content.is_empty() && !content.ends_with('\n') {
            out.push('\n');
        }
    };
    if let Some((path, content)) = fragment {
        file(path, content, false);
    }
    for (n, (path, content)) in dropins.iter().enumerate() {
        file(path, content, n == 0);
    }
    out
}

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let units = expand_names(ctx, args).await?;
    let mut ret = code::SUCCESS;
    let mut first = true;
    for unit in &units {
        let props = match find_unit(ctx, unit).await? {
            Some(path) => get_all(ctx, &path, UNIT_IFACE).await?,
            None => Default::default(),
        };
        let fragment = props
            .get("FragmentPath")
            .and_then(|v| v.as_str())
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        let dropins: Vec<String> = match props.get("DropInPaths") {
            Some(crate::props::PropValue::Strings(v)) => v.clone(),
            _ => Vec::new(),
        };
        if fragment.is_none() && dropins.is_empty() {
            emit_err(&format!("No files found for {unit}.\n"));
            ret = code::FAILURE;
            continue;
        }
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map_err(|e| Failure::error(format!("Failed to read \"{path}\": {e}")))
        };
        let fragment_text = match &fragment {
            Some(p) => Some((p.as_str(), read(p)?)),
            None => None,
        };
        let mut dropin_texts = Vec::new();
        for p in &dropins {
            dropin_texts.push((p.as_str(), read(p)?));
        }
        if !first {
            emit("\n")?;
        }
        first = false;
        let dropin_refs: Vec<(&str, &str)> =
            dropin_texts.iter().map(|(p, c)| (*p, c.as_str())).collect();
        emit(&render_cat(
            fragment_text.as_ref().map(|(p, c)| (*p, c.as_str())),
            &dropin_refs,
        ))?;
    }
    if ret != code::SUCCESS {
        return Err(Failure::silent(ret).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_spacing() {
        assert_eq!(
            render_cat(
                Some((
                    "/etc/unitd/system/a.service",
                    "[Service]\nExecStart=/bin/true\n"
                )),
                &[
                    (
                        "/etc/unitd/system/a.service.d/x.conf",
                        "[Unit]\nDescription=x"
                    ),
                    ("/etc/unitd/system/a.service.d/y.conf", "[Unit]\n"),
                ],
            ),
            "# /etc/unitd/system/a.service\n[Service]\nExecStart=/bin/true\n\
             \n# /etc/unitd/system/a.service.d/x.conf\n[Unit]\nDescription=x\n\
             # /etc/unitd/system/a.service.d/y.conf\n[Unit]\n"
        );
        assert_eq!(render_cat(None, &[("/d/x.conf", "")]), "\n# /d/x.conf\n");
    }
}
