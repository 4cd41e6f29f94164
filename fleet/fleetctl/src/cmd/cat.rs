//! `fleetctl cat UNIT`: the unit's contents as the registry holds them (fleet's canonical serialisation: no
//! comments, normalised whitespace), with no newline added.

use crate::cli::UnitsArgs;
use crate::ctx::Ctx;
use crate::driver::{unit_file, Driver};
use crate::names::{expand_all, mangle};

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &UnitsArgs) -> i32 {
    let units = expand_all(&args.units);
    if units.len() != 1 {
        ctx.io.stderr("One unit file must be provided");
        return 1;
    }
    let name = mangle(&units[0]);
    match ctx.driver.unit(&name).await {
        Err(e) => {
            ctx.io.stderr(format!("Error retrieving Unit {name}: {e}"));
            1
        }
        Ok(None) => {
            ctx.io.stderr(format!("Unit {name} not found"));
            1
        }
        Ok(Some(u)) => {
            let _ = ctx.io.write_out(unit_file(&u).to_text().as_bytes());
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use fleet_model::TargetState;

    use super::*;
    use crate::driver::fake::FakeDriver;
    use crate::testutil::{cluster, ctx};

    #[tokio::test]
    async fn cat_prints_the_canonical_text() {
        let (ctx, cap) = ctx(FakeDriver::new(cluster(&[(
            "a.service",
            "# comment\n[Unit]\nDescription=A\n[Service]\nExecStart=/bin/true\n",
            TargetState::Inactive,
        )])));
        let args = |u: &[&str]| UnitsArgs {
            units: u.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(run(&ctx, &args(&["a"])).await, 0);
        assert_eq!(
            cap.out(),
            "[Unit]\nDescription=A\n\n[Service]\nExecStart=/bin/true\n"
        );
        assert_eq!(run(&ctx, &args(&["b"])).await, 1);
        assert_eq!(run(&ctx, &args(&[])).await, 1);
        assert_eq!(
            cap.err(),
            "Unit b.service not found\nOne unit file must be provided\n"
        );
    }
}
