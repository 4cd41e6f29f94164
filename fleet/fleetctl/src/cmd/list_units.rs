//! `fleetctl list-units [--no-legend] [-l|--full] [--fields]`: the states machines published (a global unit
//! once per machine), as fleet's table.

use fleet_model::schema::ApiUnitState;

use crate::cli::ListUnitsArgs;
use crate::cmd::{columns, or_exit, print_table};
use crate::ctx::Ctx;
use crate::driver::Driver;

/// The valid fields, as fleet's help lists them.
pub const FIELDS: &[&str] = &["active", "hash", "load", "machine", "sub", "unit"];

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &ListUnitsArgs) -> i32 {
    let cols = or_exit!(columns(ctx, &args.fields, FIELDS));
    let states = match ctx.driver.unit_states(None).await {
        Ok(s) => s,
        Err(e) => {
            ctx.io.stderr(format!(
                "Error retrieving list of units from repository: {e}"
            ));
            return 1;
        }
    };
    print_table(ctx, &cols, &states, args.no_legend, async |s, c| {
        field(ctx, s, c, args.full).await
    })
    .await;
    0
}

async fn field<D: Driver>(ctx: &Ctx<D>, s: &ApiUnitState, col: &str, full: bool) -> String {
    match col {
        "unit" => s.name.clone(),
        "load" => s.load_state.clone(),
        "active" => s.active_state.clone(),
        "sub" => s.sub_state.clone(),
        "machine" if s.machine_id.is_empty() => "-".to_string(),
        "machine" => ctx.legend(&s.machine_id, full).await,
        "hash" if s.hash.is_empty() => "-".to_string(),
        "hash" if full => s.hash.clone(),
        "hash" => s.hash.chars().take(7).collect(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use fleet_model::TargetState;

    use super::*;
    use crate::driver::fake::{self, FakeDriver};
    use crate::testutil::{cluster, ctx, M1};

    const HASH: &str = "e55c0ae6b7a7b32e8d1a0f0e3b9a5a8f2f5d4c3b";

    fn fixture() -> FakeDriver {
        let mut c = cluster(&[]);
        c.machines
            .push(fake::machine("2a9c43b3cafe4ea4a4b6e6e5d3c2b1a0", ""));
        let mut hello = fake::published("hello.service", HASH, M1, TargetState::Launched);
        hello.hash = HASH.into();
        let mut other = fake::published(
            "ping@1.service",
            "",
            "2a9c43b3cafe4ea4a4b6e6e5d3c2b1a0",
            TargetState::Loaded,
        );
        other.hash.clear();
        let unknown = fake::published("x.service", HASH, "ffffffffeeee", TargetState::Launched);
        c.states = vec![hello, other, unknown];
        FakeDriver::new(c)
    }

    fn args(f: impl FnOnce(&mut ListUnitsArgs)) -> ListUnitsArgs {
        let mut a = ListUnitsArgs {
            full: false,
            no_legend: false,
            fields: "unit,machine,active,sub".into(),
        };
        f(&mut a);
        a
    }

    #[tokio::test]
    async fn default_table_matches_fleet_byte_for_byte() {
        let (ctx, cap) = ctx(fixture());
        assert_eq!(run(&ctx, &args(|_| {})).await, 0);
        assert_eq!(
            cap.out(),
            "UNIT\t\tMACHINE\t\t\t\tACTIVE\t\tSUB\n\
             hello.service\t113f16a7.../172.17.8.103\tactive\t\trunning\n\
             ping@1.service\t2a9c43b3...\t\t\tinactive\tdead\n\
             x.service\tffffffff...\t\t\tactive\t\trunning\n"
        );
    }

    #[tokio::test]
    async fn full_no_legend_and_fields() {
        let (ctx, cap) = ctx(fixture());
        assert_eq!(
            run(
                &ctx,
                &args(|a| {
                    a.full = true;
                    a.no_legend = true;
                    a.fields = "unit,hash,load,machine".into();
                })
            )
            .await,
            0
        );
        assert_eq!(
            cap.out(),
            format!(
                "hello.service\t{HASH}\tloaded\t{M1}/172.17.8.103\n\
                 ping@1.service\t-\t\t\t\t\t\tloaded\t2a9c43b3cafe4ea4a4b6e6e5d3c2b1a0\n\
                 x.service\t{HASH}\tloaded\tffffffffeeee\n"
            )
        );
        let (ctx, cap) = crate::testutil::ctx(fixture());
        assert_eq!(
            run(&ctx, &args(|a| a.fields = "hash,unit,hash".into())).await,
            0
        );
        assert_eq!(
            cap.out(),
            "HASH\tUNIT\t\tHASH\n\
             e55c0ae\thello.service\te55c0ae\n\
             -\tping@1.service\t-\n\
             e55c0ae\tx.service\te55c0ae\n"
        );
    }

    #[tokio::test]
    async fn bad_fields_are_refused() {
        let (ctx, cap) = ctx(fixture());
        assert_eq!(run(&ctx, &args(|a| a.fields = String::new())).await, 1);
        assert_eq!(
            run(&ctx, &args(|a| a.fields = "unit,bogus".into())).await,
            1
        );
        assert_eq!(
            cap.err(),
            "Must define output format\nInvalid key in output format: \"bogus\"\n"
        );
        assert_eq!(cap.out(), "");
    }
}
