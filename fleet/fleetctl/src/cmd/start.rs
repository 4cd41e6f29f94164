//! `fleetctl start UNIT...`: create what is missing, set every unit's desired state to `launched`, then wait
//! for each to be launched and active on its machine.

use fleet_model::TargetState;

use crate::block::try_wait_for_active;
use crate::cli::StartArgs;
use crate::cmd::{or_exit, schedule, Schedule};
use crate::create::Verb;
use crate::ctx::Ctx;
use crate::driver::Driver;

const START: Schedule = Schedule {
    verb: Verb::Start,
    goal: TargetState::Launched,
    word: "start",
    failure: "Error starting units",
};

pub async fn run<D: Driver>(ctx: &Ctx<D>, args: &StartArgs) -> i32 {
    let (starting, attempts) = or_exit!(schedule(ctx, args, &START).await);
    if let Err(e) = try_wait_for_active(ctx, &starting, attempts).await {
        ctx.io
            .stderr(format!("Error waiting for systemd unit states, err: {e}"));
        return 1;
    }
    0
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use fleet_model::TargetState;

    use super::*;
    use crate::driver::fake::FakeDriver;
    use crate::testutil::{cluster, ctx, UNIT};

    fn args(units: &[&str], f: impl FnOnce(&mut StartArgs)) -> StartArgs {
        let mut a = StartArgs {
            sign: false,
            block_attempts: 0,
            no_block: false,
            replace: false,
            units: units.iter().map(|s| s.to_string()).collect(),
        };
        f(&mut a);
        a
    }

    fn in_dir(dir: &Path, name: &str) -> String {
        dir.join(name).display().to_string()
    }

    #[tokio::test]
    async fn start_creates_launches_and_waits() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("web@.service"), UNIT).expect("write");
        let (ctx, cap) = ctx(FakeDriver::converging(cluster(&[])));
        let code = run(
            &ctx,
            &args(&[&in_dir(dir.path(), "web@{1..2}.service")], |_| {}),
        )
        .await;
        assert_eq!(code, 0, "{}", cap.err());
        assert_eq!(
            ctx.driver.log(),
            [
                "create web@1.service inactive",
                "create web@2.service inactive",
                "set web@1.service launched",
                "set web@2.service launched"
            ]
        );
        let out = cap.out();
        for line in [
            "Unit web@1.service inactive",
            "Unit web@2.service inactive",
            "Unit web@1.service launched on 113f16a7.../172.17.8.103",
            "Unit web@2.service launched on 113f16a7.../172.17.8.103",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} in {out}");
        }
        assert_eq!(out.lines().count(), 4);
    }

    #[tokio::test]
    async fn a_refused_unit_means_no_unit_is_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.service"), UNIT).expect("write");
        std::fs::write(
            dir.path().join("broken.service"),
            "[Unit]\nDescription=broken\n\n[Service\nExecStart=/bin/true\n",
        )
        .expect("write");
        let (ctx, cap) = ctx(FakeDriver::converging(cluster(&[])));
        let (a, broken) = (
            in_dir(dir.path(), "a.service"),
            in_dir(dir.path(), "broken.service"),
        );
        assert_eq!(run(&ctx, &args(&[&a, &broken], |_| {})).await, 1);
        assert_eq!(
            cap.err(),
            format!("Error creating units: failed getting Unit({broken}) from file: line 4: Invalid section header '[Service'\n")
        );
        assert_eq!(cap.out(), "");
        assert!(ctx.driver.log().is_empty(), "{:?}", ctx.driver.log());
        assert!(ctx.driver.with(|c| c.units.is_empty()));
    }

    #[tokio::test]
    async fn replace_of_a_running_unit_happens_in_place_and_waits_for_the_new_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let new = "[Service]\nExecStart=/bin/new\n";
        std::fs::write(dir.path().join("a.service"), new).expect("write");
        let d = FakeDriver::converging(cluster(&[("a.service", UNIT, TargetState::Launched)]));
        // The machine reports the old contents for a while after the replace.
        let old = fleet_model::UnitFile::parse(UNIT)
            .expect("valid")
            .hash()
            .to_string();
        let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let p = polls.clone();
        d.set_tick(Box::new(move |c| {
            crate::driver::fake::converge(c);
            if p.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 20 {
                for s in &mut c.states {
                    s.hash = old.clone();
                }
            }
        }));
        let (ctx, cap) = ctx(d);
        let code = run(
            &ctx,
            &args(&[&in_dir(dir.path(), "a.service")], |a| a.replace = true),
        )
        .await;
        assert_eq!(code, 0, "{}", cap.err());
        let h = fleet_model::UnitFile::parse(new)
            .expect("valid")
            .hash()
            .short();
        assert_eq!(
            ctx.driver.log(),
            [format!("replace a.service {h} launched")]
        );
        assert_eq!(
            cap.out(),
            "Unit a.service launched on 113f16a7.../172.17.8.103\n"
        );
        assert!(
            polls.load(std::sync::atomic::Ordering::SeqCst) > 20,
            "waited for the new hash"
        );
    }

    #[tokio::test]
    async fn an_already_launched_unit_is_left_alone() {
        let (ctx, cap) = ctx(FakeDriver::converging(cluster(&[(
            "a.service",
            UNIT,
            TargetState::Launched,
        )])));
        assert_eq!(run(&ctx, &args(&["a"], |_| {})).await, 0);
        assert!(ctx.driver.log().is_empty());
        assert_eq!((cap.out(), cap.err()), (String::new(), String::new()));
    }

    #[tokio::test]
    async fn no_block_and_global_units_only_trigger() {
        let (ctx, cap) = ctx(FakeDriver::new(cluster(&[
            ("a.service", UNIT, TargetState::Inactive),
            (
                "g.service",
                "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n",
                TargetState::Inactive,
            ),
        ])));
        let code = run(&ctx, &args(&["a.service", "g"], |a| a.no_block = true)).await;
        assert_eq!(code, 0);
        assert_eq!(
            cap.out(),
            "Triggered global unit g.service start\nTriggered unit a.service start\n"
        );
    }

    #[tokio::test]
    async fn an_unschedulable_unit_fails_the_start_with_its_reason() {
        let mut c = cluster(&[("a.service", UNIT, TargetState::Inactive)]);
        c.units
            .get_mut("a.service")
            .expect("unit")
            .unschedulable_reason = "no machines".into();
        let (ctx, cap) = ctx(FakeDriver::converging(c));
        let code = run(&ctx, &args(&["a.service"], |a| a.block_attempts = 2)).await;
        assert_eq!(code, 1);
        assert_eq!(
            cap.err(),
            "Unit a.service cannot be scheduled: no machines\n\
             Error waiting for units: timed out waiting for unit a.service to report state launched\n\
             Error waiting for unit states, exit status: timed out waiting for unit a.service to report state launched\n"
        );
    }

    #[tokio::test]
    async fn templates_cannot_be_started_and_sign_is_refused() {
        let (ctx, cap) = ctx(FakeDriver::converging(cluster(&[(
            "web@.service",
            UNIT,
            TargetState::Inactive,
        )])));
        assert_eq!(run(&ctx, &args(&["web@.service"], |_| {})).await, 1);
        assert_eq!(
            cap.err(),
            "Error starting units: googleapi: Error 400: cannot activate template \"web@.service\"\n"
        );
        let (ctx, cap) = crate::testutil::ctx(FakeDriver::new(cluster(&[])));
        assert_eq!(run(&ctx, &args(&["a"], |a| a.sign = true)).await, 2);
        assert_eq!(
            cap.err(),
            "WARNING: The signed/verified units feature is DEPRECATED and cannot be used.\n"
        );
        assert_eq!(run(&ctx, &args(&[], |_| {})).await, 0);
        assert!(cap.err().ends_with("No units given\n"));
    }
}
