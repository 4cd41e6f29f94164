//! fleet's blocking: waiting for units to reach a state after fleetctl changed what it wants of them
//! (`tryWaitForUnitStates`, `checkUnitState`, `waitForState`, `tryWaitForSystemdActiveState`).
//!
//! One waiter per unit, all polled concurrently. A waiter makes *attempts*: each polls every
//! [`Timing::poll`] for [`Timing::attempt`]. `--block-attempts N` allows N attempts; 0 allows any number; a
//! negative count (`--no-block`) does not wait at all.
//!
//! Beyond fleet: a unit that stays unscheduled while the engine publishes why (`unschedulableReason`) is
//! reported as `Unit X cannot be scheduled: <reason>` when its waiter gives up; and with no attempt limit the
//! waiter gives up once that reason has held for [`Timing::give_up`], so `start` never hangs silently on a
//! unit that cannot run. The systemd-active check gives up the same way on a unit that stays `failed`.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};

use fleet_model::schema::ApiUnitState;
use fleet_model::TargetState;

use crate::ctx::{full_legend, go_duration, Ctx};
use crate::driver::{is_global, unit_file, Driver};

/// fleet's `getBlockAttempts`: `--no-block` → -1 (do not wait), else N if positive, else 0 (no limit).
pub fn block_attempts(block_attempts: i64, no_block: bool) -> i64 {
    if no_block {
        -1
    } else {
        block_attempts.max(0)
    }
}

/// Why a wait failed; the first texts are fleet's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    #[error("timed out waiting for unit {name} to report state {state}")]
    TimedOut { name: String, state: String },
    /// No attempt limit, but the unit was stuck (see [`wait_unit_state`]) for the give-up time.
    #[error("gave up waiting for unit {name} to report state {state}: no progress for {held}")]
    GaveUp {
        name: String,
        state: String,
        held: String,
    },
    #[error("Failed to find an active unit {name} within {within}, err: {last}")]
    NotActive {
        name: String,
        within: String,
        last: String,
    },
    /// A read failed where fleet treats that as fatal (destroy).
    #[error("{0}")]
    Read(String),
}

/// What one poll found.
pub enum Check {
    /// The wait is over.
    Done,
    /// Not yet.
    NotYet,
    /// Not yet, and held back by this (an unschedulable reason, a failed unit): with no attempt limit the wait
    /// gives up when the same reason has held for [`Timing::give_up`].
    Stuck(String),
    /// The wait is over, badly.
    Fail(String),
}

/// How a wait ended without success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GaveUp {
    /// Every allowed attempt was made; `stuck` is the reason seen at the last poll, if any.
    Attempts {
        stuck: Option<String>,
    },
    /// No attempt limit, but the same reason held for `held`.
    Stuck {
        reason: String,
        held: Duration,
    },
    Failed(String),
}

/// fleet's attempt loop around `check` (`attempts` 0: no limit). Each poll takes one of the context's poll
/// slots, so thousands of waiters never hold more than a few requests (and connections) at once.
pub async fn poll<D, F, Fut>(ctx: &Ctx<D>, attempts: u32, mut check: F) -> Result<(), GaveUp>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Check>,
{
    let timing = &ctx.timing;
    let mut stuck: Option<(String, Instant)> = None;
    let mut made = 0;
    loop {
        let window = Instant::now();
        loop {
            tokio::time::sleep(timing.poll).await;
            let found = {
                let _slot = ctx.poll_slots.acquire().await;
                check().await
            };
            match found {
                Check::Done => return Ok(()),
                Check::Fail(msg) => return Err(GaveUp::Failed(msg)),
                Check::NotYet => stuck = None,
                Check::Stuck(reason) => {
                    let since = match &stuck {
                        Some((old, since)) if *old == reason => *since,
                        _ => Instant::now(),
                    };
                    stuck = Some((reason, since));
                }
            }
            if let (0, Some((reason, since))) = (attempts, &stuck) {
                if since.elapsed() >= timing.give_up {
                    return Err(GaveUp::Stuck {
                        reason: reason.clone(),
                        held: since.elapsed(),
                    });
                }
            }
            if window.elapsed() >= timing.attempt {
                break;
            }
        }
        made += 1;
        if attempts > 0 && made >= attempts {
            return Err(GaveUp::Attempts {
                stuck: stuck.map(|(r, _)| r),
            });
        }
    }
}

/// fleet's `checkUnitState`: waits until `name` reports `goal` (its desired state for a global unit, its
/// current state otherwise), then prints `Unit NAME STATE[ on LEGEND]`.
///
/// While it waits for `loaded`/`launched`, a unit the engine cannot place (an unschedulable reason, no
/// machine) is stuck, and so is one whose machine reports it `failed` while `launched` is wanted; the reason is
/// printed when the waiter gives up.
pub async fn wait_unit_state<D: Driver>(
    ctx: &Ctx<D>,
    name: &str,
    goal: TargetState,
    attempts: u32,
) -> Result<(), WaitError> {
    let result = poll(ctx, attempts, || async move {
        let Ok(Some(u)) = ctx.driver.unit(name).await else {
            return Check::NotYet;
        };
        let global = is_global(&u);
        let observed = if global {
            &u.desired_state
        } else {
            &u.current_state
        };
        if observed == goal.as_str() {
            let mut msg = format!("Unit {name} {}", u.current_state);
            if !u.machine_id.is_empty() {
                if let Some(m) = ctx.machine(&u.machine_id).await {
                    msg.push_str(&format!(" on {}", full_legend(&m.id, &m.primary_ip, false)));
                }
            }
            ctx.io.stdout(msg);
            return Check::Done;
        }
        if goal == TargetState::Inactive || global {
            return Check::NotYet;
        }
        if u.machine_id.is_empty() {
            return if u.unschedulable_reason.is_empty() {
                Check::NotYet
            } else {
                Check::Stuck(format!(
                    "Unit {name} cannot be scheduled: {}",
                    u.unschedulable_reason
                ))
            };
        }
        if goal == TargetState::Launched {
            if let Ok(states) = ctx.driver.unit_states(Some(name)).await {
                if states
                    .iter()
                    .any(|s| s.machine_id == u.machine_id && failing(s))
                {
                    let legend = ctx.legend(&u.machine_id, false).await;
                    return Check::Stuck(format!("Unit {name} failed on {legend}"));
                }
            }
        }
        Check::NotYet
    })
    .await;
    match result {
        Ok(()) => Ok(()),
        Err(GaveUp::Attempts { stuck }) => {
            if let Some(reason) = stuck {
                ctx.io.stderr(reason);
            }
            Err(WaitError::TimedOut {
                name: name.to_string(),
                state: goal.to_string(),
            })
        }
        Err(GaveUp::Stuck { reason, held }) => {
            ctx.io.stderr(reason);
            Err(WaitError::GaveUp {
                name: name.to_string(),
                state: goal.to_string(),
                held: go_duration(Duration::from_secs(held.as_secs())),
            })
        }
        Err(GaveUp::Failed(msg)) => Err(WaitError::Read(msg)),
    }
}

/// Whether a published state shows the unit failing: `failed`, or waiting to be restarted after a failure.
pub fn failing(s: &ApiUnitState) -> bool {
    s.active_state == "failed" || s.sub_state == "auto-restart"
}

/// fleet's `tryWaitForUnitStates`: with `attempts < 0` prints `Triggered unit NAME VERB` for each; otherwise
/// waits for all, and the first failure is printed as `Error waiting for units: …` and returned.
pub async fn try_wait_for_unit_states<D: Driver>(
    ctx: &Ctx<D>,
    names: &[String],
    verb: &str,
    goal: TargetState,
    attempts: i64,
) -> Result<(), WaitError> {
    if attempts < 0 {
        for name in names {
            ctx.io.stdout(format!("Triggered unit {name} {verb}"));
        }
        return Ok(());
    }
    let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
    first_error(
        ctx,
        names
            .iter()
            .map(|n| wait_unit_state(ctx, n, goal, attempts)),
    )
    .await
}

/// Waits for every unit and returns every failure (the creation wait of `lazyCreateUnits`).
pub async fn wait_all<D: Driver>(
    ctx: &Ctx<D>,
    names: &[String],
    goal: TargetState,
    attempts: i64,
) -> Vec<WaitError> {
    let attempts = u32::try_from(attempts.max(0)).unwrap_or(u32::MAX);
    let mut waits: FuturesUnordered<_> = names
        .iter()
        .map(|n| wait_unit_state(ctx, n, goal, attempts))
        .collect();
    let mut errors = Vec::new();
    while let Some(r) = waits.next().await {
        if let Err(e) = r {
            errors.push(e);
        }
    }
    errors
}

async fn first_error<D: Driver, F>(
    ctx: &Ctx<D>,
    waits: impl Iterator<Item = F>,
) -> Result<(), WaitError>
where
    F: Future<Output = Result<(), WaitError>>,
{
    let mut waits: FuturesUnordered<F> = waits.collect();
    while let Some(r) = waits.next().await {
        if let Err(e) = r {
            ctx.io.stderr(format!("Error waiting for units: {e}"));
            return Err(e);
        }
    }
    Ok(())
}

/// fleet's `tryWaitForSystemdActiveState`, run after `start` saw `launched`: waits until the state published
/// from the unit's machine, for its current contents, is `loaded`/`active`. Uses the same attempts as the
/// launch wait (fleet used a single 2 s window), a missing state is "not yet", and with no attempt limit a unit
/// that stays `failed` ends the wait.
pub async fn try_wait_for_active<D: Driver>(
    ctx: &Ctx<D>,
    names: &[String],
    attempts: i64,
) -> Result<(), WaitError> {
    if attempts < 0 {
        // fleet printed `Triggered unit X start` a second time here; once is enough.
        return Ok(());
    }
    let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
    first_error(ctx, names.iter().map(|n| wait_active(ctx, n, attempts))).await
}

async fn wait_active<D: Driver>(ctx: &Ctx<D>, name: &str, attempts: u32) -> Result<(), WaitError> {
    let started = Instant::now();
    let last = Mutex::new(format!("Failed to find an active unit {name}"));
    let set_last = |m: String| *last.lock().unwrap_or_else(PoisonError::into_inner) = m;
    let result = poll(ctx, attempts, || async {
        let unit = match ctx.driver.unit(name).await {
            Ok(Some(u)) => u,
            Ok(None) => {
                set_last(format!("Failed to find an active unit {name}"));
                return Check::NotYet;
            }
            Err(e) => {
                set_last(format!("Error getting unit state of {name}: {e}"));
                return Check::NotYet;
            }
        };
        let states = match ctx.driver.unit_states(Some(name)).await {
            Ok(s) => s,
            Err(e) => {
                set_last(format!("Error getting unit state of {name}: {e}"));
                return Check::NotYet;
            }
        };
        let hash = unit_file(&unit).hash().to_string();
        let state = states
            .iter()
            .find(|s| unit.machine_id.is_empty() || s.machine_id == unit.machine_id);
        set_last(format!("Failed to find an active unit {name}"));
        match state {
            Some(s) if s.hash.is_empty() || s.hash == hash => {
                if s.active_state == "active" && s.load_state == "loaded" {
                    Check::Done
                } else if failing(s) {
                    let legend = ctx.legend(&s.machine_id, false).await;
                    Check::Stuck(format!("Unit {name} failed on {legend}"))
                } else {
                    Check::NotYet
                }
            }
            _ => Check::NotYet,
        }
    })
    .await;
    let within = |d: Duration| go_duration(Duration::from_secs(d.as_secs()));
    match result {
        Ok(()) => Ok(()),
        Err(GaveUp::Attempts { .. }) => Err(WaitError::NotActive {
            name: name.to_string(),
            within: within(ctx.timing.attempt * attempts),
            last: last.into_inner().unwrap_or_else(PoisonError::into_inner),
        }),
        Err(GaveUp::Stuck { reason, .. }) => Err(WaitError::NotActive {
            name: name.to_string(),
            within: within(started.elapsed()),
            last: reason,
        }),
        Err(GaveUp::Failed(msg)) => Err(WaitError::Read(msg)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;
    use crate::driver::fake::{self, FakeDriver};
    use crate::testutil::{cluster, ctx, UNIT};

    /// `start`'s wait for `a.service`.
    async fn start_a(ctx: &Ctx<FakeDriver>, attempts: i64) -> Result<(), WaitError> {
        let names = ["a.service".to_string()];
        try_wait_for_unit_states(ctx, &names, "start", TargetState::Launched, attempts).await
    }

    /// A converging cluster where `a.service` is wanted launched but cannot be scheduled, for `reason`.
    fn unschedulable(reason: &str) -> FakeDriver {
        let mut c = cluster(&[("a.service", UNIT, TargetState::Launched)]);
        if let Some(u) = c.units.get_mut("a.service") {
            u.unschedulable_reason = reason.into();
        }
        FakeDriver::converging(c)
    }

    #[test]
    fn block_attempts_are_fleets() {
        assert_eq!(block_attempts(0, false), 0);
        assert_eq!(block_attempts(5, false), 5);
        assert_eq!(block_attempts(-3, false), 0);
        assert_eq!(block_attempts(5, true), -1);
    }

    #[tokio::test]
    async fn a_launched_unit_is_reported_with_its_machine() {
        let d = FakeDriver::converging(cluster(&[("a.service", UNIT, TargetState::Launched)]));
        let (ctx, cap) = ctx(d);
        let names = vec!["a.service".to_string()];
        start_a(&ctx, 0).await.expect("launched");
        try_wait_for_active(&ctx, &names, 0).await.expect("active");
        assert_eq!(
            cap.out(),
            "Unit a.service launched on 113f16a7.../172.17.8.103\n"
        );
        assert_eq!(cap.err(), "");
    }

    #[tokio::test]
    async fn many_waiters_share_a_few_poll_slots() {
        let (ctx, _cap) = ctx(FakeDriver::new(cluster(&[])));
        let (in_flight, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let waits = (0..200).map(|_| {
            poll(&ctx, 1, || async {
                let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Check::Done
            })
        });
        let results = futures::future::join_all(waits).await;
        assert!(results.iter().all(Result::is_ok));
        let most = most.load(Ordering::SeqCst);
        assert!(most > 1 && most <= crate::ctx::POLL_SLOTS, "{most}");
    }

    #[tokio::test]
    async fn no_block_only_says_it_triggered() {
        let d = FakeDriver::new(cluster(&[("a.service", UNIT, TargetState::Launched)]));
        let (ctx, cap) = ctx(d);
        let names = vec!["a.service".to_string()];
        start_a(&ctx, -1).await.expect("no wait");
        try_wait_for_active(&ctx, &names, -1)
            .await
            .expect("no wait");
        assert_eq!(cap.out(), "Triggered unit a.service start\n");
        assert_eq!(ctx.driver.with(|c| c.reads), 0);
    }

    #[tokio::test]
    async fn attempts_run_out_with_fleets_message() {
        // Never converges: the unit stays inactive.
        let d = FakeDriver::new(cluster(&[("a.service", UNIT, TargetState::Launched)]));
        let (ctx, cap) = ctx(d);
        let started = Instant::now();
        let err = start_a(&ctx, 3).await.expect_err("times out");
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert_eq!(
            err.to_string(),
            "timed out waiting for unit a.service to report state launched"
        );
        assert_eq!(
            cap.err(),
            "Error waiting for units: timed out waiting for unit a.service to report state launched\n"
        );
        assert_eq!(cap.out(), "");
    }

    #[tokio::test]
    async fn an_unschedulable_unit_says_why_when_attempts_run_out() {
        let (ctx, cap) = ctx(unschedulable("no machine has metadata region=mars"));
        let err = start_a(&ctx, 2).await.expect_err("gives up");
        assert!(matches!(err, WaitError::TimedOut { .. }));
        assert_eq!(
            cap.err(),
            "Unit a.service cannot be scheduled: no machine has metadata region=mars\n\
             Error waiting for units: timed out waiting for unit a.service to report state launched\n"
        );
    }

    #[tokio::test]
    async fn without_a_limit_a_stable_unschedulable_reason_ends_the_wait() {
        let (ctx, cap) = ctx(unschedulable(
            "found conflict with locally-scheduled Unit([b.service])",
        ));
        let err = start_a(&ctx, 0).await.expect_err("gives up");
        assert!(matches!(err, WaitError::GaveUp { .. }), "{err:?}");
        assert!(cap.err().starts_with(
            "Unit a.service cannot be scheduled: found conflict with locally-scheduled Unit([b.service])\n\
             Error waiting for units: gave up waiting for unit a.service to report state launched: no progress for "
        ), "{}", cap.err());
    }

    #[tokio::test]
    async fn a_changing_reason_restarts_the_clock_and_a_placement_ends_the_wait() {
        let c = cluster(&[("a.service", UNIT, TargetState::Launched)]);
        let d = FakeDriver::new(c);
        let reads = Arc::new(AtomicUsize::new(0));
        let r = reads.clone();
        d.set_tick(Box::new(move |c| {
            let n = r.fetch_add(1, Ordering::SeqCst);
            let u = c.units.get_mut("a.service").expect("unit");
            // A new reason every poll for a while (never stable for the give-up time), then schedulable.
            if n < 60 {
                u.unschedulable_reason = format!("reason {n}");
            } else {
                u.unschedulable_reason.clear();
                fake::converge(c);
            }
        }));
        let (ctx, cap) = ctx(d);
        wait_unit_state(&ctx, "a.service", TargetState::Launched, 0)
            .await
            .expect("eventually launched");
        assert!(reads.load(Ordering::SeqCst) > 60);
        assert_eq!(
            cap.out(),
            "Unit a.service launched on 113f16a7.../172.17.8.103\n"
        );
    }

    #[tokio::test]
    async fn global_units_wait_on_their_desired_state() {
        let d = FakeDriver::converging(cluster(&[(
            "g.service",
            "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\n",
            TargetState::Inactive,
        )]));
        let (ctx, cap) = ctx(d);
        assert!(
            wait_all(&ctx, &["g.service".to_string()], TargetState::Inactive, 0)
                .await
                .is_empty()
        );
        // fleet prints the (empty) current state of a global unit: a trailing space.
        assert_eq!(cap.out(), "Unit g.service \n");
    }

    #[tokio::test]
    async fn the_active_check_fails_with_the_last_reason() {
        let d = FakeDriver::converging_with(
            cluster(&[("a.service", UNIT, TargetState::Launched)]),
            |s| {
                s.active_state = "activating".into();
                s.sub_state = "start".into();
            },
        );
        let (ctx, cap) = ctx(d);
        let err = try_wait_for_active(&ctx, &["a.service".to_string()], 2)
            .await
            .expect_err("never active");
        assert_eq!(
            err,
            WaitError::NotActive {
                name: "a.service".into(),
                within: "0s".into(),
                last: "Failed to find an active unit a.service".into()
            }
        );
        assert!(cap.err().starts_with(
            "Error waiting for units: Failed to find an active unit a.service within"
        ));
    }

    #[tokio::test]
    async fn a_failed_unit_ends_an_unlimited_active_check() {
        let d = FakeDriver::converging_with(
            cluster(&[("a.service", UNIT, TargetState::Launched)]),
            fake::fail,
        );
        let (ctx, _cap) = ctx(d);
        let err = try_wait_for_active(&ctx, &["a.service".to_string()], 0)
            .await
            .expect_err("failed");
        match err {
            WaitError::NotActive { last, .. } => {
                assert_eq!(last, "Unit a.service failed on 113f16a7.../172.17.8.103")
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_unit_failing_on_its_machine_ends_an_unlimited_launch_wait() {
        let d = FakeDriver::new(cluster(&[("a.service", UNIT, TargetState::Launched)]));
        d.set_tick(Box::new(|c| {
            fake::converge(c);
            // What fleetd shows for a unit that failed on its machine: loaded, not launched.
            for u in c.units.values_mut() {
                u.current_state = "loaded".into();
            }
            c.states.iter_mut().for_each(fake::fail);
        }));
        let (ctx, cap) = ctx(d);
        let err = wait_unit_state(&ctx, "a.service", TargetState::Launched, 0)
            .await
            .expect_err("gives up");
        assert!(matches!(err, WaitError::GaveUp { .. }), "{err:?}");
        assert_eq!(
            cap.err(),
            "Unit a.service failed on 113f16a7.../172.17.8.103\n"
        );
    }

    #[tokio::test]
    async fn a_state_for_old_contents_is_not_active() {
        let d = FakeDriver::converging_with(
            cluster(&[("a.service", UNIT, TargetState::Launched)]),
            |s| s.hash = "0000000000000000000000000000000000000000".into(),
        );
        let (ctx, _cap) = ctx(d);
        assert!(try_wait_for_active(&ctx, &["a.service".to_string()], 1)
            .await
            .is_err());
    }
}
