//! Wait helpers for tests (feature `testing`): poll a condition until it holds, failing with a clear
//! message once the deadline passes, so no test loop can hang forever.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often the helpers poll.
pub const POLL: Duration = Duration::from_millis(20);

/// Polls `check` until it returns `Some`, and returns that value; panics with
/// "timed out after {timeout:?} waiting for {what}" once `timeout` has passed.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `check` until it returns true; panics like [`eventually`] at the deadline.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually(timeout, what, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await
}

/// Awaits `fut`, panicking with "timed out after {timeout:?} waiting for {what}" if it takes longer
/// (for waits on a stream, a channel or a child process rather than a polled condition).
pub async fn within<T>(timeout: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(timeout, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {timeout:?} waiting for {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn returns_once_the_condition_holds() {
        let n = AtomicUsize::new(0);
        let got = eventually(Duration::from_secs(5), "three polls", || async {
            (n.fetch_add(1, Ordering::SeqCst) >= 2).then_some(7)
        })
        .await;
        assert_eq!(got, 7);
        wait_until(Duration::from_secs(5), "true", || async { true }).await;
        assert_eq!(
            within(Duration::from_secs(5), "ready", async { 3 }).await,
            3
        );
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for the impossible")]
    async fn fails_at_the_deadline_with_the_description() {
        wait_until(Duration::from_millis(50), "the impossible", || async {
            false
        })
        .await;
    }
}
