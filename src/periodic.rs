//! Background work that runs now and then again after a pause (or, for work that new outbox
//! events call for, as soon as they are announced), until the instance shuts down: the
//! analytics recorder, the webhook deliverer, the titler, the stale-answer sweeper and the
//! rate-limit cleanup share this one loop.

use std::future::Future;
use std::ops::ControlFlow;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Spawns a task that runs `work` at once and then `pause` after each run ends (a slow run
/// never piles up runs behind it), until `shutdown` is cancelled or `work` says `Break`.
pub fn every<F, Fut>(pause: Duration, shutdown: CancellationToken, work: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ControlFlow<()>> + Send + 'static,
{
    run(pause, None, shutdown, work);
}

/// As [`every`], and also as soon as `woken` is woken (new outbox events were committed), but
/// never sooner than `min_gap` after the previous run began: work that new events call for
/// (webhooks, titles) starts at once instead of at its next period, and a burst of events
/// costs a few runs, not one each. Wakes during a run call for one more run.
pub fn every_or_woken<F, Fut>(
    pause: Duration,
    min_gap: Duration,
    woken: watch::Receiver<()>,
    shutdown: CancellationToken,
    work: F,
) where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ControlFlow<()>> + Send + 'static,
{
    run(pause, Some((min_gap, woken)), shutdown, work);
}

fn run<F, Fut>(
    pause: Duration,
    mut woken: Option<(Duration, watch::Receiver<()>)>,
    shutdown: CancellationToken,
    mut work: F,
) where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ControlFlow<()>> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let began = Instant::now();
            if let Some((_, woken)) = &mut woken {
                // This run sees what was announced so far.
                woken.mark_unchanged();
            }
            if work().await.is_break() {
                return;
            }
            let wake = async {
                match &mut woken {
                    Some((min_gap, woken)) => {
                        if woken.changed().await.is_err() {
                            // Nobody can wake it any more: the pause alone.
                            std::future::pending::<()>().await;
                        }
                        tokio::time::sleep_until(began + *min_gap).await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
                _ = wake => {}
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn runs_at_once_then_after_each_pause_until_shutdown() {
        let runs = Arc::new(AtomicUsize::new(0));
        let shutdown = CancellationToken::new();
        let counted = runs.clone();
        every(Duration::from_secs(10), shutdown.clone(), move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                ControlFlow::Continue(())
            }
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "at once");
        tokio::time::sleep(Duration::from_secs(25)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "at 0 s, 10 s and 20 s");
        shutdown.cancel();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3, "none after shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn work_can_stop_itself() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        every(
            Duration::from_secs(1),
            CancellationToken::new(),
            move || {
                let counted = counted.clone();
                async move {
                    if counted.fetch_add(1, Ordering::SeqCst) == 1 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                }
            },
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    /// Work that counts its runs, each taking `takes`, run every minute and when woken, at
    /// least `min_gap` apart: the count, and what wakes it.
    fn counted_when_woken(
        min_gap: Duration,
        takes: Duration,
    ) -> (Arc<AtomicUsize>, watch::Sender<()>) {
        let runs = Arc::new(AtomicUsize::new(0));
        let (wake, woken) = watch::channel(());
        let counted = runs.clone();
        every_or_woken(
            Duration::from_secs(60),
            min_gap,
            woken,
            CancellationToken::new(),
            move || {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(takes).await;
                    ControlFlow::Continue(())
                }
            },
        );
        (runs, wake)
    }

    #[tokio::test(start_paused = true)]
    async fn a_wake_runs_the_work_soon_and_wakes_during_a_run_make_one_more() {
        let (runs, wake) =
            counted_when_woken(Duration::from_millis(20), Duration::from_millis(100));
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "at once, then nothing to do"
        );
        wake.send_replace(());
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2, "woken: at once");
        // Three wakes while that run works: one more run for all of them.
        for _ in 0..3 {
            wake.send_replace(());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        // Without wakes, the pause still runs it.
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn woken_runs_are_at_least_the_gap_apart() {
        let (runs, wake) = counted_when_woken(Duration::from_millis(100), Duration::ZERO);
        // A wake every 10 ms for one second: about one run per 100 ms.
        for _ in 0..100 {
            wake.send_replace(());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let runs = runs.load(Ordering::SeqCst);
        assert!((10..=12).contains(&runs), "{runs} runs");
    }
}
