//! A batch deadline that fires on time.
//!
//! Tokio's timers tick in whole milliseconds and its driver parks in `epoll_wait`, whose timeout
//! is rounded up to the next millisecond, so a 5 ms batch timeout cut blocks after 6.1 ms at
//! the median (measured with `cambium bench ordering --rate 100`): every envelope of a block cut
//! by its timeout waited about a millisecond longer than the channel's `BatchTimeout` says.
//! [`Deadline`] keeps one thread per cutter that sleeps on a condition variable (a futex with
//! a high-resolution timeout) and wakes the cutter's task when the deadline passes.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

#[derive(Default)]
struct Shared {
    /// The deadline armed, with the generation it was armed in.
    armed: Mutex<Armed>,
    wake_thread: Condvar,
    fired: Notify,
}

#[derive(Default)]
struct Armed {
    at: Option<Instant>,
    generation: u64,
    fired_generation: u64,
    closed: bool,
}

/// One re-armable deadline served by its own timer thread; the thread ends when the
/// `Deadline` is dropped.
pub(crate) struct Deadline {
    shared: Arc<Shared>,
}

impl Deadline {
    /// A disarmed deadline and its timer thread, named `name`.
    pub(crate) fn new(name: &str) -> std::io::Result<Deadline> {
        let shared = Arc::new(Shared::default());
        let thread = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || timer_thread(&thread))?;
        Ok(Deadline { shared })
    }

    /// Arms the deadline at `at` (replacing any armed one), or disarms it with `None`.
    pub(crate) fn set(&self, at: Option<Instant>) {
        let mut armed = self.shared.armed.lock().expect("deadline lock");
        armed.at = at;
        armed.generation += 1;
        drop(armed);
        self.shared.wake_thread.notify_one();
    }

    /// Whether a deadline is armed.
    #[cfg(test)]
    pub(crate) fn is_armed(&self) -> bool {
        self.shared
            .armed
            .lock()
            .expect("deadline lock")
            .at
            .is_some()
    }

    /// Completes once the armed deadline has passed, and disarms it; pending while none is
    /// armed. A deadline replaced or disarmed before it passed never completes this.
    pub(crate) async fn fired(&self) {
        loop {
            let notified = self.shared.fired.notified();
            {
                let mut armed = self.shared.armed.lock().expect("deadline lock");
                if armed.fired_generation == armed.generation && armed.at.is_some() {
                    armed.at = None;
                    return;
                }
            }
            notified.await;
        }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.shared.armed.lock().expect("deadline lock").closed = true;
        self.shared.wake_thread.notify_one();
    }
}

fn timer_thread(shared: &Shared) {
    let mut armed = shared.armed.lock().expect("deadline lock");
    loop {
        if armed.closed {
            return;
        }
        match armed.at {
            Some(at) if armed.fired_generation != armed.generation => {
                let now = Instant::now();
                if now >= at {
                    armed.fired_generation = armed.generation;
                    drop(armed);
                    shared.fired.notify_one();
                    armed = shared.armed.lock().expect("deadline lock");
                } else {
                    armed = shared
                        .wake_thread
                        .wait_timeout(armed, at - now)
                        .expect("deadline lock")
                        .0;
                }
            }
            _ => armed = shared.wake_thread.wait(armed).expect("deadline lock"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn fires_once_after_its_time_and_not_when_replaced_or_disarmed() {
        let deadline = Deadline::new("test-deadline").unwrap();
        assert!(!deadline.is_armed());
        let start = Instant::now();
        deadline.set(Some(start + Duration::from_millis(20)));
        assert!(deadline.is_armed());
        deadline.fired().await;
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(!deadline.is_armed(), "firing disarms it");

        // Nothing armed: pending.
        let idle = tokio::time::timeout(Duration::from_millis(30), deadline.fired()).await;
        assert!(idle.is_err());

        // Replaced by a later one: only the later one fires.
        let start = Instant::now();
        deadline.set(Some(start + Duration::from_millis(5)));
        deadline.set(Some(start + Duration::from_millis(40)));
        deadline.fired().await;
        assert!(start.elapsed() >= Duration::from_millis(40));

        // Disarmed before its time: never fires.
        deadline.set(Some(Instant::now() + Duration::from_millis(5)));
        deadline.set(None);
        let idle = tokio::time::timeout(Duration::from_millis(30), deadline.fired()).await;
        assert!(idle.is_err());
    }
}
