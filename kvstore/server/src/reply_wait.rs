//! How an RPC task waits for the raft thread's answer to its proposal or read.
//!
//! The raft thread answers after an fsync, by which time a parked runtime thread has often left its CPU idle,
//! and waking an idle CPU costs tens of µs here (35 µs measured with `perf sched timehist` on this 2-core VM: a
//! tenth of a 1-client put). So a lone request (nothing else in flight on this member) keeps its runtime thread
//! busy for a short while instead of parking it: the task re-polls its reply channel, yielding the CPU
//! (`sched_yield`) and the runtime in between — a spin that kept the CPU cut a 3-member cluster on this 2-core
//! machine to a third of its 1-client rate, starving the other members. Go's scheduler, which etcd runs on,
//! spins idle threads in the same way before it parks them. With more than one request in flight the thread has
//! other work and nothing is gained, so those wait parked as usual; a lone request stops spinning after
//! [`SPIN_LIMIT`].
//!
//! A follower's answer to its leader's append makes the same trip the other way (peer receiver → raft thread,
//! fsync → peer sender task), so the sender to a peer that is owed an answer spins for it in the same way
//! ([`AnswerDue`]); only appends count, so an idle cluster's heartbeats do not make anything spin.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
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
            spin(&mut spins).await;
        }
        reply.await
    }

    #[cfg(test)]
    fn count(&self) -> usize {
        self.0.load(Relaxed)
    }
}

/// A peer that handed this member a raft message it answers (an append), and until when its answer is awaited:
/// the peer sender that will carry the answer spins for it, as a lone request does for its reply, instead of
/// parking its runtime thread through the raft thread's fsync.
#[derive(Clone, Default)]
pub struct AnswerDue {
    peer: Arc<AtomicU64>,
    until_nanos: Arc<AtomicU64>,
}

impl AnswerDue {
    /// `peer` will get an answer from the raft thread soon.
    pub fn expect(&self, peer: u64) {
        self.peer.store(peer, Relaxed);
        self.until_nanos
            .store(nanos_since_start() + SPIN_LIMIT.as_nanos() as u64, Relaxed);
    }

    /// The next message for `peer` from `rx`, if one comes while an answer to `peer` is due; `None` once it is no
    /// longer due (the caller then waits as usual).
    pub async fn recv<T>(&self, peer: u64, rx: &mut tokio::sync::mpsc::Receiver<T>) -> Option<T> {
        let mut spins = 0u32;
        while self.peer.load(Relaxed) == peer
            && nanos_since_start() < self.until_nanos.load(Relaxed)
        {
            if let Ok(m) = rx.try_recv() {
                self.until_nanos.store(0, Relaxed);
                return Some(m);
            }
            spin(&mut spins).await;
        }
        None
    }
}

fn nanos_since_start() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// One spin in this many lets the runtime poll its I/O driver; polling it every time costs a lone 1-client put
/// ~5% of its rate here (an `epoll_wait` per spin).
const IO_EVERY: u32 = 8;

/// One turn of a spin: gives the CPU to any thread waiting for one (on a shared machine: another member, the
/// client), then lets the runtime run its other ready tasks — and, every [`IO_EVERY`] turns, poll its I/O driver
/// (a peer's answer, say) — before the spinning task looks again.
async fn spin(spins: &mut u32) {
    std::thread::yield_now();
    *spins += 1;
    if spins.is_multiple_of(IO_EVERY) {
        tokio::task::yield_now().await;
    } else {
        requeue().await;
    }
}

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
    async fn a_peer_sender_spins_only_while_an_answer_to_its_peer_is_due() {
        let due = AnswerDue::default();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(4);
        // Nothing due: the sender goes back to waiting as usual at once.
        let t = Instant::now();
        assert_eq!(due.recv(7, &mut rx).await, None);
        assert!(t.elapsed() < SPIN_LIMIT);
        // An answer to peer 7 is due: its sender spins and takes the answer queued while it spins. The answer
        // comes from a task on this runtime, which runs only when a spin turn yields (a thread sleeping a few
        // hundred µs was not always scheduled within the 2 ms window on a loaded machine).
        // A few tries: the window is 2 ms of wall time, and a test thread descheduled for longer on a loaded
        // machine misses it through no fault of the spin.
        let mut tx = tx;
        let mut got = None;
        for _ in 0..5 {
            due.expect(7);
            let raft = tokio::spawn(async move {
                tx.send(42).await.unwrap();
                tx
            });
            got = due.recv(7, &mut rx).await;
            tx = raft.await.unwrap();
            if got.is_some() {
                break;
            }
            assert_eq!(rx.try_recv().ok(), Some(42), "the answer was queued");
        }
        assert_eq!(got, Some(42));
        // Taken: no longer due. And an answer due to peer 7 does not make peer 9's sender spin.
        assert_eq!(due.recv(7, &mut rx).await, None);
        due.expect(7);
        let t = Instant::now();
        assert_eq!(due.recv(9, &mut rx).await, None);
        assert!(t.elapsed() < SPIN_LIMIT);
        // Nothing comes: the spin ends after the limit.
        let t = Instant::now();
        assert_eq!(due.recv(7, &mut rx).await, None);
        assert!(t.elapsed() >= SPIN_LIMIT / 2, "{:?}", t.elapsed());
        drop(tx);
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
