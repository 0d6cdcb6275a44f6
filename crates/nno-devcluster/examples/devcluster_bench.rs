//! Devcluster benchmark (not a test): create / list / watch throughput with 10,000 objects through the
//! real kube-rs client, and the process memory they take. Run:
//! `cargo run --release --example devcluster_bench [-- OBJECTS [STATE_FILE]]` (with a state file every write
//! is fsynced before it is acknowledged).

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use nno_devcluster::{DevCluster, Options};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts live heap bytes so the report can say what the stored objects cost.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates every call to the system allocator unchanged and only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn heap_mib() -> f64 {
    LIVE.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn cm(i: usize) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(format!("bench-{i:05}")),
            labels: Some(BTreeMap::from([
                ("app".into(), "bench".into()),
                ("shard".into(), (i % 10).to_string()),
            ])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            ("payload".into(), "x".repeat(256)),
            ("index".into(), i.to_string()),
        ])),
        ..Default::default()
    }
}

fn rate(n: usize, t: std::time::Duration) -> String {
    format!(
        "{n} in {:.2}s = {:.0}/s",
        t.as_secs_f64(),
        n as f64 / t.as_secs_f64()
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let state_file = std::env::args().nth(2).map(std::path::PathBuf::from);
    if let Some(p) = &state_file {
        let _ = std::fs::remove_file(p);
        println!("state file: {} (fsync per write)", p.display());
    }
    let dc = DevCluster::start(Options {
        state_file,
        history_limit: 4 * n,
        ..Options::default()
    })
    .await?;
    let api: Api<ConfigMap> = Api::default_namespaced(dc.client()?);
    let rss0 = rss_kib();
    let heap0 = heap_mib();
    let start_rv: String = api
        .list(&ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();

    let t = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move { api.create(&PostParams::default(), &cm(i)).await }
        })
        .buffer_unordered(16)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    println!("create (16 in flight):          {}", rate(n, t.elapsed()));
    let rss1 = rss_kib();
    let heap1 = heap_mib();

    let t = Instant::now();
    let all = api.list(&ListParams::default()).await?;
    println!(
        "list, one page:                 {} objects",
        rate(all.items.len(), t.elapsed())
    );
    let live_rv = all.metadata.resource_version.clone().unwrap_or_default();
    drop(all);

    let t = Instant::now();
    let mut pages = 0;
    let mut count = 0;
    let mut lp = ListParams::default().limit(500);
    loop {
        let page = api.list(&lp).await?;
        pages += 1;
        count += page.items.len();
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    println!(
        "list, pages of 500 ({pages} pages): {} objects",
        rate(count, t.elapsed())
    );

    let t = Instant::now();
    let sel = api
        .list(&ListParams::default().labels("shard in (1,2)"))
        .await?;
    println!(
        "list, label selector (20%):     {} matches in {:.3}s",
        sel.items.len(),
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut stream = api
        .watch(&WatchParams::default().timeout(60), &start_rv)
        .await?
        .boxed();
    let mut replayed = 0;
    while replayed < n {
        match stream.try_next().await? {
            Some(WatchEvent::Added(_)) => replayed += 1,
            Some(_) => {}
            None => break,
        }
    }
    println!(
        "watch, replay from history:     {} events",
        rate(replayed, t.elapsed())
    );
    drop(stream);

    let watcher = {
        let api = api.clone();
        tokio::spawn(async move {
            let mut stream = api
                .watch(&WatchParams::default().timeout(120), &live_rv)
                .await?
                .boxed();
            let mut got = 0;
            let t = Instant::now();
            while got < n {
                match stream.try_next().await? {
                    Some(WatchEvent::Modified(_)) => got += 1,
                    Some(_) => {}
                    None => break,
                }
            }
            Ok::<_, kube::Error>((got, t.elapsed()))
        })
    };
    let t = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move {
                api.patch(
                    &format!("bench-{i:05}"),
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"data": {"index": "updated"}})),
                )
                .await
            }
        })
        .buffer_unordered(16)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    println!("merge patch (16 in flight):     {}", rate(n, t.elapsed()));
    let (got, took) = watcher.await??;
    println!("watch, live while patching:     {} events", rate(got, took));

    println!(
        "memory (VmRSS, server and client in one process): {:.1} MiB before, {:.1} MiB with {n} objects (+{:.1} MiB, ~{:.1} KiB/object incl. watch history)",
        rss0 as f64 / 1024.0,
        rss1 as f64 / 1024.0,
        (rss1.saturating_sub(rss0)) as f64 / 1024.0,
        (rss1.saturating_sub(rss0)) as f64 / n as f64
    );
    println!(
        "live heap: {heap0:.1} MiB before, {heap1:.1} MiB with {n} objects (~{:.1} KiB/object: stored object + its watch-history entry)",
        (heap1 - heap0) * 1024.0 / n as f64
    );
    println!("live heap after {n} patches: {:.1} MiB", heap_mib());
    println!(
        "memory after patches (VmRSS):   {:.1} MiB",
        rss_kib() as f64 / 1024.0
    );
    dc.stop().await;
    Ok(())
}
