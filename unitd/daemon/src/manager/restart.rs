//! Pure decisions about restarting a service: the `Restart=` table of systemd.service(5) and the start-rate
//! limit (`StartLimitIntervalSec=`/`StartLimitBurst=`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use unitfile::RestartPolicy;

use super::state::ServiceResult;

/// Whether a service that ended with `result` is restarted under `policy` (systemd.service(5), table 2).
/// A stop that was asked for never restarts, nor does a hit start limit.
pub fn should_restart(policy: RestartPolicy, result: ServiceResult, stop_requested: bool) -> bool {
    use ServiceResult as R;
    if stop_requested || result == R::StartLimitHit {
        return false;
    }
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always => true,
        RestartPolicy::OnSuccess => result == R::Success,
        RestartPolicy::OnFailure => result != R::Success,
        RestartPolicy::OnAbnormal => {
            matches!(
                result,
                R::Signal | R::CoreDump | R::Timeout | R::Watchdog | R::OomKill
            )
        }
        RestartPolicy::OnWatchdog => result == R::Watchdog,
        RestartPolicy::OnAbort => matches!(result, R::Signal | R::CoreDump),
    }
}

/// The start-rate limiter: at most `burst` starts within `interval`; an interval of zero disables it.
#[derive(Debug, Default)]
pub struct StartLimit {
    starts: VecDeque<Instant>,
}

impl StartLimit {
    /// Records a start at `now`; false when this start exceeds the limit (and is not recorded).
    pub fn try_start(&mut self, now: Instant, interval: Duration, burst: u32) -> bool {
        if interval.is_zero() || burst == 0 {
            return true;
        }
        while let Some(first) = self.starts.front() {
            if now.duration_since(*first) >= interval {
                self.starts.pop_front();
            } else {
                break;
            }
        }
        if self.starts.len() >= burst as usize {
            return false;
        }
        self.starts.push_back(now);
        true
    }

    /// `systemctl reset-failed` forgets past starts.
    pub fn reset(&mut self) {
        self.starts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_table_matches_systemd() {
        use RestartPolicy as P;
        use ServiceResult as R;
        let cases = [
            (P::No, R::ExitCode, false),
            (P::Always, R::Success, true),
            (P::OnSuccess, R::Success, true),
            (P::OnSuccess, R::ExitCode, false),
            (P::OnFailure, R::ExitCode, true),
            (P::OnFailure, R::Success, false),
            (P::OnFailure, R::OomKill, true),
            (P::OnAbnormal, R::ExitCode, false),
            (P::OnAbnormal, R::Signal, true),
            (P::OnAbort, R::Timeout, false),
            (P::OnAbort, R::CoreDump, true),
            (P::OnWatchdog, R::Watchdog, true),
            (P::Always, R::StartLimitHit, false),
        ];
        for (policy, result, expected) in cases {
            assert_eq!(
                should_restart(policy, result, false),
                expected,
                "{policy:?} {result:?}"
            );
        }
        assert!(!should_restart(P::Always, R::Success, true));
    }

    #[test]
    fn start_limit_allows_burst_per_interval() {
        let mut limit = StartLimit::default();
        let t0 = Instant::now();
        let interval = Duration::from_secs(10);
        for i in 0..5 {
            assert!(limit.try_start(t0 + Duration::from_millis(i), interval, 5));
        }
        assert!(!limit.try_start(t0 + Duration::from_secs(1), interval, 5));
        assert!(limit.try_start(t0 + Duration::from_secs(11), interval, 5));
        assert!(limit.try_start(t0, Duration::ZERO, 1));
    }
}
