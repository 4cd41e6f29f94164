//! `unitctl show [-p PROP[,PROP]] [--value] [-a] [UNIT...]`: `Name=Value` lines like `systemctl show`, from
//! `GetAll` on the unit's `Service` and `Unit` interfaces (in that order, as systemd lists them), or on the
//! manager (and unitd's own manager interface) without units. Units are separated by a blank line. A unit
//! unitd doesn't know shows `LoadState=not-found`, as systemd's placeholder unit does.

use crate::context::{emit, Context};
use crate::props::{
    ordered, render_show, PropValue, Props, ShowOptions, MANAGER_ORDER, SERVICE_ORDER, UNIT_ORDER,
};
use crate::units::{
    expand_names, find_unit, get_all, manager_path, unit_props, FLOTILLA_IFACE, MANAGER_IFACE,
};

/// The properties of a unit unitd has no file for.
pub fn not_found_props(unit: &str) -> Props {
    let s = |v: &str| PropValue::Str(v.to_string());
    let mut props = Props::new();
    props.insert("Id".into(), s(unit));
    props.insert("Names".into(), PropValue::Strings(vec![unit.to_string()]));
    props.insert("LoadState".into(), s("not-found"));
    props.insert("ActiveState".into(), s("inactive"));
    props.insert("SubState".into(), s("dead"));
    props.insert(
        "LoadError".into(),
        PropValue::Struct(vec![
            s(unitd_client::error::names::NO_SUCH_UNIT),
            s(&format!("Unit {unit} not found.")),
        ]),
    );
    props
}

/// `-p` values: each may hold several names separated by commas.
pub fn split_properties(raw: &[String]) -> Vec<String> {
    raw.iter()
        .flat_map(|p| p.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// The show output for one unit's `Unit` and `Service` maps.
pub fn render_unit(
    unit: &Props,
    service: &Props,
    opts: &ShowOptions,
    zone: &crate::render::Zone,
) -> String {
    let mut list = ordered(service, SERVICE_ORDER);
    list.extend(ordered(unit, UNIT_ORDER));
    render_show(&list, opts, zone)
}

/// Runs the verb.
pub async fn run(ctx: &Context, args: &[String]) -> anyhow::Result<()> {
    let opts = ShowOptions {
        properties: split_properties(&ctx.opts.properties),
        value_only: ctx.opts.value,
        all: ctx.opts.all,
    };
    if args.is_empty() {
        let path = manager_path();
        let mut props = get_all(ctx, &path, MANAGER_IFACE).await?;
        props.extend(
            get_all(ctx, &path, FLOTILLA_IFACE)
                .await
                .unwrap_or_default(),
        );
        emit(&render_show(
            &ordered(&props, MANAGER_ORDER),
            &opts,
            &ctx.zone,
        ))?;
        return Ok(());
    }
    let units = expand_names(ctx, args).await?;
    for (n, unit) in units.iter().enumerate() {
        let text = match find_unit(ctx, unit).await? {
            Some(path) => {
                let (unit_p, service_p) = unit_props(ctx, unit, &path).await?;
                render_unit(&unit_p, &service_p, &opts, &ctx.zone)
            }
            None => render_unit(&not_found_props(unit), &Props::new(), &opts, &ctx.zone),
        };
        if n > 0 && !text.is_empty() {
            emit("\n")?;
        }
        emit(&text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Zone;

    #[test]
    fn property_lists() {
        assert_eq!(
            split_properties(&["Id,ActiveState".into(), "MainPID".into(), ",".into()]),
            ["Id", "ActiveState", "MainPID"]
        );
    }

    #[test]
    fn service_properties_come_first() {
        let mut unit = Props::new();
        unit.insert("Id".into(), PropValue::Str("a.service".into()));
        let mut service = Props::new();
        service.insert("MainPID".into(), PropValue::Int(5));
        assert_eq!(
            render_unit(&unit, &service, &ShowOptions::default(), &Zone::Utc),
            "MainPID=5\nId=a.service\n"
        );
    }

    #[test]
    fn unknown_units_are_not_found() {
        let opts = ShowOptions {
            properties: vec!["LoadState".into(), "ActiveState".into()],
            value_only: true,
            all: false,
        };
        assert_eq!(
            render_unit(
                &not_found_props("x.service"),
                &Props::new(),
                &opts,
                &Zone::Utc
            ),
            "not-found\ninactive\n"
        );
    }
}
