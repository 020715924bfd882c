//! Background work that runs now and then again after a pause, until the instance shuts down:
//! the analytics recorder, the webhook deliverer, the stale-answer sweeper and the rate-limit
//! cleanup share this one loop.

use std::future::Future;
use std::ops::ControlFlow;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Spawns a task that runs `work` at once and then `pause` after each run ends (a slow run
/// never piles up runs behind it), until `shutdown` is cancelled or `work` says `Break`.
pub fn every<F, Fut>(pause: Duration, shutdown: CancellationToken, mut work: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ControlFlow<()>> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            if work().await.is_break() {
                return;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
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
}
