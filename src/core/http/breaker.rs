//! A circuit breaker, so a dead core costs the gateway nothing but a fast 503.
//!
//! ```text
//!            N consecutive failures            open period over:
//!  Closed ───────────────────────────▶ Open ──────────────────────▶ HalfOpen
//!    ▲                                  ▲   (calls fail at once)     │ one trial call
//!    │           trial succeeds         │         trial fails        │ (others fail
//!    └──────────────────────────────────┼────────────────────────────┘  at once)
//!                                       └────────────────────────────┘
//! ```
//!
//! A call asks for a [`Permit`] ([`CircuitBreaker::try_acquire`]) and settles it
//! with [`Permit::success`] or [`Permit::failure`]. What counts as a failure is the
//! caller's decision: the HTTP adapter counts "unreachable, timed out, 5xx", not a
//! 4xx, because a core that answers 404 is alive. Time comes from the injected
//! [`Clock`], so tests move it instead of sleeping.

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

use crate::clock::Clock;

/// The breaker's state as operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; consecutive failures are counted.
    Closed,
    /// Calls fail at once until the open period is over.
    Open,
    /// One trial call is in flight; others fail at once until it settles.
    HalfOpen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: OffsetDateTime },
    HalfOpen,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    state: Mutex<State>,
    threshold: u32,
    open_for: Duration,
    clock: Arc<dyn Clock>,
}

impl CircuitBreaker {
    /// Opens after `threshold` consecutive failures, for `open_for`.
    pub fn new(threshold: u32, open_for: Duration, clock: Arc<dyn Clock>) -> CircuitBreaker {
        CircuitBreaker {
            state: Mutex::new(State::Closed { failures: 0 }),
            threshold: threshold.max(1),
            open_for,
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state now. An open breaker whose period is over reports `HalfOpen`:
    /// the next call is the trial.
    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if self.clock.now() < until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen => BreakerState::HalfOpen,
        }
    }

    /// A permit to call the core, or `None` when the call must fail at once.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        let mut state = self.lock();
        let trial = match *state {
            State::Closed { .. } => false,
            State::Open { until } if self.clock.now() >= until => {
                *state = State::HalfOpen;
                tracing::info!("core circuit breaker half-open: trying one call");
                true
            }
            State::Open { .. } | State::HalfOpen => return None,
        };
        Some(Permit {
            breaker: self,
            trial,
            settled: false,
        })
    }

    fn settle(&self, trial: bool, success: bool) {
        let mut state = self.lock();
        let next = match (*state, trial, success) {
            (State::HalfOpen, true, true) => {
                tracing::info!("core circuit breaker closed: the core answered again");
                State::Closed { failures: 0 }
            }
            (State::HalfOpen, true, false) => self.open(),
            (State::Closed { .. }, false, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false, false) if failures + 1 >= self.threshold => {
                self.open()
            }
            (State::Closed { failures }, false, false) => State::Closed {
                failures: failures + 1,
            },
            // A call that began before the breaker opened says nothing about the
            // core now; the trial decides.
            (current, _, _) => current,
        };
        *state = next;
    }

    fn open(&self) -> State {
        tracing::warn!(
            core.open_seconds = self.open_for.whole_seconds(),
            "core circuit breaker open: calls fail fast"
        );
        State::Open {
            until: self.clock.now() + self.open_for,
        }
    }
}

/// The right to make one call; settle it with the call's outcome. A permit
/// dropped unsettled (the call was cancelled) counts as a failed trial, so a
/// cancelled trial cannot leave the breaker half-open for ever, and as nothing in
/// the closed state.
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    trial: bool,
    settled: bool,
}

impl Permit<'_> {
    pub fn success(mut self) {
        self.settled = true;
        self.breaker.settle(self.trial, true);
    }

    pub fn failure(mut self) {
        self.settled = true;
        self.breaker.settle(self.trial, false);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled && self.trial {
            self.breaker.settle(true, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn breaker(threshold: u32) -> (CircuitBreaker, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::starting_now());
        let b = CircuitBreaker::new(threshold, Duration::seconds(10), clock.clone());
        (b, clock)
    }

    fn fail(b: &CircuitBreaker, times: u32) {
        for _ in 0..times {
            b.try_acquire().expect("closed").failure();
        }
    }

    #[test]
    fn it_opens_after_the_threshold_of_consecutive_failures() {
        let (b, _) = breaker(3);
        fail(&b, 2);
        assert_eq!(b.state(), BreakerState::Closed);
        fail(&b, 1);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.try_acquire().is_none(), "an open breaker fails fast");
    }

    #[test]
    fn a_success_resets_the_count_of_failures() {
        let (b, _) = breaker(3);
        fail(&b, 2);
        b.try_acquire().unwrap().success();
        fail(&b, 2);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn after_the_open_period_one_trial_call_goes_through_and_closes_it() {
        let (b, clock) = breaker(1);
        fail(&b, 1);
        clock.advance(Duration::seconds(9));
        assert!(b.try_acquire().is_none());
        clock.advance(Duration::seconds(1));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let trial = b.try_acquire().expect("the trial");
        assert!(b.try_acquire().is_none(), "only one trial at a time");
        trial.success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.try_acquire().is_some());
    }

    #[test]
    fn a_failed_trial_opens_it_for_another_full_period() {
        let (b, clock) = breaker(1);
        fail(&b, 1);
        clock.advance(Duration::seconds(10));
        b.try_acquire().expect("the trial").failure();
        assert_eq!(b.state(), BreakerState::Open);
        clock.advance(Duration::seconds(9));
        assert!(b.try_acquire().is_none());
        clock.advance(Duration::seconds(1));
        assert!(b.try_acquire().is_some());
    }

    #[test]
    fn a_cancelled_trial_counts_as_failed() {
        let (b, clock) = breaker(1);
        fail(&b, 1);
        clock.advance(Duration::seconds(10));
        drop(b.try_acquire().expect("the trial"));
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn late_outcomes_of_calls_begun_while_closed_do_not_decide() {
        let (b, clock) = breaker(1);
        let slow = b.try_acquire().unwrap();
        fail(&b, 1);
        slow.success();
        assert_eq!(
            b.state(),
            BreakerState::Open,
            "a stale success keeps it open"
        );
        clock.advance(Duration::seconds(10));
        let trial = b.try_acquire().unwrap();
        let stale = Permit {
            breaker: &b,
            trial: false,
            settled: false,
        };
        stale.failure();
        trial.success();
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
