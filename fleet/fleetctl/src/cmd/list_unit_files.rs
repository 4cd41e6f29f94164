//! `fleetctl list-unit-files [--fields]`: every unit in the registry, as fleet's table.

use fleet_model::schema::ApiUnit;

use crate::cli::ListUnitFilesArgs;
use crate::cmd::{columns, or_exit, print_table};
use crate::ctx::Ctx;
use crate::driver::{is_global, unit_file, Driver};

/// The valid fields, as fleet's help lists them.
pub const FIELDS: &[&str] = &[
    "desc", "dstate", "global", "hash", "state", "target", "tmachine", "unit",
];

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &ListUnitFilesArgs) -> i32 {
    if args.fields.is_empty() {
        ctx.io.stderr("Must define output format");
        return 1;
    }
    // fleet warns about each `tmachine` while it checks the fields, before a bad one stops it.
    for c in args.fields.split(',') {
        if !FIELDS.contains(&c) {
            break;
        }
        if c == "tmachine" {
            ctx.io
                .stderr("WARNING: The \"tmachine\" field is deprecated. Use \"target\" instead");
        }
    }
    let cols = or_exit!(columns(ctx, &args.fields, FIELDS));
    let units = match ctx.driver.units().await {
        Ok(u) => u,
        Err(e) => {
            ctx.io.stderr(format!(
                "Error retrieving list of units from repository: {e}"
            ));
            return 1;
        }
    };
    print_table(ctx, &cols, &units, args.no_legend, async |u, c| {
        field(ctx, u, c, args.full).await
    })
    .await;
    0
}

async fn field<D: Driver>(ctx: &Ctx<D>, u: &ApiUnit, col: &str, full: bool) -> String {
    let dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    match col {
        "unit" => u.name.clone(),
        "global" => is_global(u).to_string(),
        "dstate" => dash(&u.desired_state),
        "state" if is_global(u) => "-".to_string(),
        "state" => dash(&u.current_state),
        "target" | "tmachine" if is_global(u) => "global".to_string(),
        "target" | "tmachine" if u.machine_id.is_empty() => "-".to_string(),
        "target" | "tmachine" => ctx.legend(&u.machine_id, full).await,
        "hash" if full => unit_file(u).hash().to_string(),
        "hash" => unit_file(u).hash().short(),
        "desc" => dash(unit_file(u).description().unwrap_or_default()),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use fleet_model::{TargetState, UnitFile};

    use super::*;
    use crate::driver::fake::FakeDriver;
    use crate::testutil::{cluster, ctx, M1};

    const HELLO: &str = "[Unit]\nDescription=Hello World\n\n[Service]\nExecStart=/bin/sh -c \"while true; do echo Hello World; sleep 1; done\"\n";
    const GLOBAL: &str = "[Service]\nExecStart=/bin/true\n\n[X-Fleet]\nGlobal=true\n";

    fn fixture() -> FakeDriver {
        FakeDriver::converging(cluster(&[
            ("hello.service", HELLO, TargetState::Launched),
            (
                "ping.service",
                "[Service]\nExecStart=/bin/true\n",
                TargetState::Inactive,
            ),
            ("glob.service", GLOBAL, TargetState::Launched),
        ]))
    }

    fn args(f: impl FnOnce(&mut ListUnitFilesArgs)) -> ListUnitFilesArgs {
        let mut a = ListUnitFilesArgs {
            full: false,
            no_legend: false,
            fields: "unit,hash,dstate,state,target".into(),
        };
        f(&mut a);
        a
    }

    fn short(text: &str) -> String {
        UnitFile::parse(text).expect("valid").hash().short()
    }

    #[tokio::test]
    async fn default_table_matches_fleet_byte_for_byte() {
        let (ctx, cap) = ctx(fixture());
        assert_eq!(run(&ctx, &args(|_| {})).await, 0);
        let (g, h, p) = (
            short(GLOBAL),
            short(HELLO),
            short("[Service]\nExecStart=/bin/true\n"),
        );
        assert_eq!(
            cap.out(),
            format!(
                "UNIT\t\tHASH\tDSTATE\t\tSTATE\t\tTARGET\n\
                 glob.service\t{g}\tlaunched\t-\t\tglobal\n\
                 hello.service\t{h}\tlaunched\tlaunched\t113f16a7.../172.17.8.103\n\
                 ping.service\t{p}\tinactive\tinactive\t-\n"
            )
        );
    }

    #[tokio::test]
    async fn other_fields_full_and_the_tmachine_warning() {
        let (ctx, cap) = ctx(fixture());
        let code = run(
            &ctx,
            &args(|a| {
                a.full = true;
                a.no_legend = true;
                a.fields = "unit,global,desc,tmachine,hash".into();
            }),
        )
        .await;
        assert_eq!(code, 0);
        let full = |t: &str| UnitFile::parse(t).expect("valid").hash().to_string();
        assert_eq!(
            cap.out(),
            format!(
                "glob.service\ttrue\t-\t\tglobal\t\t\t\t\t\t{}\n\
                 hello.service\tfalse\tHello World\t{M1}/172.17.8.103\t{}\n\
                 ping.service\tfalse\t-\t\t-\t\t\t\t\t\t{}\n",
                full(GLOBAL),
                full(HELLO),
                full("[Service]\nExecStart=/bin/true\n")
            )
        );
        assert_eq!(
            cap.err(),
            "WARNING: The \"tmachine\" field is deprecated. Use \"target\" instead\n"
        );
    }
}
