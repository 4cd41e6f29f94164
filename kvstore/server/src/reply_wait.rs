//! How an RPC task waits for the raft thread's answer to its proposal or read.
//!
//! A lone request (nothing else in flight on this member) keeps its runtime thread busy for a short while
//! instead of parking it: the task re-polls its reply channel, yielding the CPU (`sched_yield`) and the runtime
//! in between — a spin that kept the CPU cut a 3-member cluster on this 2-core machine to a third of its
//! 1-client rate, starving the other members. The
//! raft thread answers after an fsync, by which time a parked runtime thread has often left the CPU idle, and
//! waking an idle CPU costs tens of µs here (35 µs measured with `perf sched timehist` on this 2-core VM: a
//! tenth of a 1-client put). Go's scheduler, which etcd runs on, spins idle threads in the same way before it
//! parks them. With more than one request in flight the thread has other work and nothing is gained, so those
//! wait parked as usual; a lone request stops spinning after [`SPIN_LIMIT`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// The longest a lone request spins before it parks: a few slow fsyncs' worth.
pub const SPIN_LIMIT: Duration = Duration::from_millis(2);

/// Counts the requests of this member waiting for the raft thread.
#[derive(Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// Waits for `reply`, spinning while it is the only request in flight (see the module docs).
    pub async fn wait<F: Future + Unpin>(&self, mut reply: F) -> F::Output {
        self.0.fetch_add(1, Relaxed);
        let _counted = Guard(self.0.clone());
        let spin_until = Instant::now() + SPIN_LIMIT;
        let mut spins = 0u32;
        while self.0.load(Relaxed) == 1 && Instant::now() < spin_until {
            let polled =
                std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut reply).poll(cx))).await;
            if let Poll::Ready(out) = polled {
                return out;
            }
            // Give the CPU to any thread waiting for one (on a shared machine: another member, the client).
            std::thread::yield_now();
            spins += 1;
            if spins.is_multiple_of(IO_EVERY) {
                // Let the runtime poll its I/O driver (a peer's answer, say) before this task looks again.
                tokio::task::yield_now().await;
            } else {
                // Back of the run queue: other ready tasks run first; the I/O driver is left for later.
                requeue().await;
            }
        }
        reply.await
    }

    #[cfg(test)]
    fn count(&self) -> usize {
        self.0.load(Relaxed)
    }
}

/// One spin in this many lets the runtime poll its I/O driver; polling it every time costs a lone 1-client put
/// ~5% of its rate here (an `epoll_wait` per spin).
const IO_EVERY: u32 = 8;

/// Goes to the back of the runtime's run queue once, without waiting for its I/O driver to be polled (which
/// `tokio::task::yield_now` waits for).
async fn requeue() {
    let mut queued = false;
    std::future::poll_fn(|cx| {
        if queued {
            return Poll::Ready(());
        }
        queued = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// Takes its request off the count however the wait ends (answered, timed out or cancelled).
struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::task::Context;

    /// A future that counts its polls and is ready once `ready` is set.
    struct Probe {
        polls: Arc<AtomicU64>,
        ready: Arc<std::sync::atomic::AtomicBool>,
    }

    impl Future for Probe {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Relaxed);
            if self.ready.load(Relaxed) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    fn probe() -> (Probe, Arc<AtomicU64>, Arc<std::sync::atomic::AtomicBool>) {
        let polls = Arc::new(AtomicU64::new(0));
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
        (
            Probe {
                polls: polls.clone(),
                ready: ready.clone(),
            },
            polls,
            ready,
        )
    }

    fn spawn_wait(in_flight: &InFlight, reply: Probe) -> tokio::task::JoinHandle<()> {
        let in_flight = in_flight.clone();
        tokio::spawn(async move { in_flight.wait(reply).await })
    }

    #[tokio::test]
    async fn a_lone_request_keeps_polling_and_sees_its_answer_without_a_wake_up() {
        let in_flight = InFlight::default();
        let (reply, polls, ready) = probe();
        let waiter = spawn_wait(&in_flight, reply);
        // The probe never wakes its task: only spinning can notice that it became ready.
        let spun = tokio::time::timeout(Duration::from_millis(500), async {
            while polls.load(Relaxed) < 10 {
                tokio::task::yield_now().await;
            }
        });
        assert!(spun.await.is_ok(), "polled {} times", polls.load(Relaxed));
        ready.store(true, Relaxed);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("the spinning waiter saw its answer")
            .unwrap();
        assert_eq!(in_flight.count(), 0);
    }

    #[tokio::test]
    async fn with_another_request_in_flight_a_waiter_parks() {
        let in_flight = InFlight::default();
        let (first, _, _) = probe();
        let first = spawn_wait(&in_flight, first);
        let (second, polls, _) = probe();
        let second = spawn_wait(&in_flight, second);
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Polled once (or twice, if it ran before the other was counted) and then parked: nothing wakes it.
        assert!(polls.load(Relaxed) <= 2, "{} polls", polls.load(Relaxed));
        first.abort();
        second.abort();
        let _ = first.await;
        let _ = second.await;
        assert_eq!(in_flight.count(), 0, "cancelled waits leave the count");
    }

    #[tokio::test]
    async fn a_lone_request_parks_after_the_spin_limit() {
        let in_flight = InFlight::default();
        let (reply, polls, _) = probe();
        let waiter = spawn_wait(&in_flight, reply);
        tokio::time::sleep(SPIN_LIMIT * 3).await;
        let settled = polls.load(Relaxed);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            polls.load(Relaxed),
            settled,
            "still polling after the limit"
        );
        waiter.abort();
    }
}
