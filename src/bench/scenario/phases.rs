//! The phases of a bench run and the invariants each leaves to check.

use super::*;

/// Objects the bench creates or deletes at once.
const WRITE_CONCURRENCY: usize = 32;

/// Runs `write` over `items`, [`WRITE_CONCURRENCY`] at a time, on a task of its own (so that the
/// caller's loop goes on sampling and killing meanwhile); the first error ends it.
fn in_background<T, F, Fut>(items: Vec<T>, write: F) -> tokio::task::JoinHandle<anyhow::Result<()>>
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    tokio::spawn(async move {
        futures::stream::iter(items)
            .map(write)
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    })
}

/// The outcome of an [`in_background`] task.
async fn finished(
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    what: &str,
) -> anyhow::Result<()> {
    match task.await {
        Ok(r) => r.with_context(|| what.to_owned()),
        Err(e) => anyhow::bail!("{what}: the task failed: {e}"),
    }
}

impl Bench<'_> {
    /// Places the orders, switches the faults on, creates the objects and waits until everything
    /// is Ready (and every order answered). Returns the figures and whether it got there.
    pub(super) async fn converge(&mut self) -> anyhow::Result<(Convergence, bool)> {
        let before = probe::requests(&self.sims);
        let started = Instant::now();
        self.place_orders().await?;
        self.set_faults()?;
        self.operator.start_killing();
        let manifests: Vec<serde_json::Value> = self
            .mix
            .kinds()
            .flat_map(|(k, n)| (0..n).map(move |i| k.manifest(i)))
            .collect();
        let client = self.client.clone();
        let creating = in_background(manifests, move |m| {
            let client = client.clone();
            async move { apply(&client, NS, m).await }
        });
        let deadline = started + self.args.timeout;
        let mut ready_at = None;
        loop {
            self.tick()?;
            let (total, ready, expected) = self.tallies();
            let answered = self.orders_answered();
            self.progress.update(
                "converging",
                ready,
                expected,
                &format!(
                    "Ready, {total} created, orders answered {answered}/{}, operator killed {}×",
                    self.args.orders, self.operator.kills
                ),
            );
            if creating.is_finished() && ready == expected && answered >= self.args.orders {
                ready_at = Some(started.elapsed());
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(TICK).await;
        }
        self.operator.stop_killing();
        finished(creating, "creating the objects").await?;
        let calls = probe::requests_between(&before, &probe::requests(&self.sims));
        let objects = (self.mix.total() + self.args.orders) as f64;
        let cloud_objects = (self.mix.total() - self.mix.count(BenchKind::Platform)) as f64;
        let rows = endpoint_rows(&calls, objects);
        let (floor_s, floor_explained) = floor(self.args, &self.mix);
        let time_to_ready_s = ready_at.map(|d| d.as_secs_f64());
        match time_to_ready_s {
            Some(t) => self.progress.println(&format!(
                "all {objects} objects Ready in {t:.1} s (floor {floor_s:.1} s)"
            )),
            None => self.progress.println(&format!(
                "not everything Ready after {:?}",
                self.args.timeout
            )),
        }
        Ok((
            Convergence {
                time_to_ready_s,
                floor_s,
                floor_explained,
                vs_floor: time_to_ready_s
                    .filter(|_| floor_s > 0.0)
                    .map(|t| t / floor_s),
                calls_per_object: sum(&rows, None) as f64 / objects.max(1.0),
                threenv_calls_per_object: sum(&rows, Some("threenv")) as f64
                    / cloud_objects.max(1.0),
                calls: rows,
            },
            ready_at.is_some(),
        ))
    }

    async fn place_orders(&mut self) -> anyhow::Result<()> {
        if self.args.orders == 0 {
            return Ok(());
        }
        let pax8 = pax8_client(&self.sims)?;
        for i in 0..self.args.orders {
            let req: ProvisionRequest = serde_json::from_value(json!({
                "type": "NetNew", "productId": PRODUCT_ID,
                "subscriptionId": uuid::Uuid::new_v4().to_string(),
                "companyName": format!("Bench Customer {i}"),
            }))?;
            let ev = OrderEvent {
                provision_request: Some(req),
                ..OrderEvent::default()
            };
            pax8.create_order_event(&ev)
                .await
                .with_context(|| format!("placing Pax8 order {i}"))?;
        }
        Ok(())
    }

    /// Orders with a result (all, once every request has one and there are no more results).
    fn orders_answered(&self) -> usize {
        if self.args.orders == 0 {
            return 0;
        }
        let c = probe::pax8_counts(&self.sims);
        let requests = c.get("provisionRequests").copied().unwrap_or(0);
        requests.saturating_sub(c.get("provisionRequestsUnfulfilled").copied().unwrap_or(0))
    }

    /// Runs the ticks for `d` (a measurement window, not a wait for a condition).
    async fn hold(&mut self, d: Duration) -> anyhow::Result<()> {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.tick()?;
            tokio::time::sleep(TICK.min(end.saturating_duration_since(Instant::now()))).await;
        }
        Ok(())
    }

    /// Cloud calls while nothing changes, over `--idle-intervals` poll intervals, once the
    /// operator has gone quiet: after all Ready it still lists at the transition rate and
    /// confirms what it just wrote (ServicePackage whitelists), so the measurement starts after
    /// the first poll interval with no more calls than the periodic lists (waiting at most
    /// `--settle-intervals`), and that wait is reported.
    pub(super) async fn idle(&mut self) -> anyhow::Result<Idle> {
        let poll = self.args.poll_interval;
        let pairs = self.mix.cloud_kinds() + usize::from(self.args.orders > 0);
        self.progress.println(&format!(
            "idle: waiting for a poll interval with at most {pairs} calls (the periodic lists)"
        ));
        let start = Instant::now();
        let settle_intervals = self.args.settle_intervals.max(1);
        let mut quiet_after = None;
        for _ in 0..settle_intervals {
            if self.calls_over(poll).await? <= pairs as u64 {
                quiet_after = Some(start.elapsed().as_secs_f64());
                break;
            }
        }
        if quiet_after.is_none() {
            self.progress.println(&format!(
                "idle: still busier than the periodic lists after {settle_intervals} poll intervals; measuring anyway"
            ));
        }
        let before = probe::requests(&self.sims);
        let intervals = self.args.idle_intervals.max(1);
        self.progress
            .println(&format!("idle: measuring {intervals} poll intervals"));
        let mut by_interval = Vec::with_capacity(intervals as usize);
        for _ in 0..intervals {
            by_interval.push(self.calls_over(poll).await?);
        }
        let calls = probe::requests_between(&before, &probe::requests(&self.sims));
        let rows = endpoint_rows(&calls, f64::from(intervals));
        let per_interval = sum(&rows, None) as f64 / f64::from(intervals);
        let objects = self.mix.total() + self.args.orders;
        self.progress.println(&format!(
            "idle: {per_interval:.2} cloud calls per poll interval for {objects} objects"
        ));
        Ok(Idle {
            intervals,
            calls_per_interval: per_interval,
            by_interval,
            quiet_after_ready_s: quiet_after,
            calls: rows,
            kind_location_pairs: pairs,
            per_object_polling_per_interval: objects,
            ratio: (per_interval > 0.0).then(|| objects as f64 / per_interval),
        })
    }

    /// The operator's cloud calls over the next `d`.
    async fn calls_over(&mut self, d: Duration) -> anyhow::Result<u64> {
        let before = probe::requests(&self.sims);
        self.hold(d).await?;
        let calls = probe::requests_between(&before, &probe::requests(&self.sims));
        Ok(sum(&endpoint_rows(&calls, 1.0), None))
    }

    /// Renames a VM in the simulator behind the operator's back and times the correction.
    pub(super) async fn drift(&mut self) -> anyhow::Result<Option<Drift>> {
        let name = BenchKind::Vm.name(0);
        let Some(id) = self
            .watched
            .iter()
            .find(|(w, _)| w.kind == BenchKind::Vm)
            .and_then(|(w, _)| w.external_id(&name))
        else {
            return Ok(None);
        };
        let cloud = ThreenvClient::new(self.sims.threenv_url(), Secret::new(self.sims.api_key()))?;
        let original = cloud.get_vm(Some(LOCATION), &id).await?.name;
        cloud
            .modify_vm(
                Some(LOCATION),
                &ModifyVm {
                    uuid: id.clone(),
                    name: Some("renamed-behind-the-operators-back".into()),
                    ..ModifyVm::default()
                },
            )
            .await?;
        let started = Instant::now();
        let deadline = started + self.args.poll_interval * 3 + Duration::from_secs(30);
        let mut corrected = None;
        while Instant::now() < deadline {
            self.tick()?;
            if cloud
                .get_vm(Some(LOCATION), &id)
                .await
                .is_ok_and(|v| v.name == original)
            {
                corrected = Some(started.elapsed().as_secs_f64());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.progress.println(&match corrected {
            Some(t) => format!("drift: renamed VM {name} corrected after {t:.2} s"),
            None => format!("drift: renamed VM {name} not corrected"),
        });
        Ok(Some(Drift {
            object: format!("VirtualMachine {name}"),
            corrected_after_s: corrected,
            poll_interval_s: self.args.poll_interval.as_secs_f64(),
        }))
    }

    /// Touches every cloud object (a user annotation) at `--touch-rate` and reads the operator's
    /// watch→reconcile histogram before and after.
    pub(super) async fn wake_latency(&mut self) -> anyhow::Result<Option<WakeLatency>> {
        const METRIC: &str = "nno_watch_to_reconcile_seconds";
        if self.args.touch_rate <= 0.0 {
            return Ok(None);
        }
        let targets: Vec<(BenchKind, String)> = self
            .watched
            .iter()
            .filter(|(w, _)| w.kind != BenchKind::Platform)
            .flat_map(|(w, _)| w.names().into_iter().map(|n| (w.kind, n)))
            .collect();
        if targets.is_empty() {
            return Ok(None);
        }
        let Some((pid, before)) = self.operator.metrics().await else {
            self.notes
                .push("watch→reconcile latency: the operator's /metrics did not answer".into());
            return Ok(None);
        };
        let before = probe::histogram(&before, METRIC);
        let gap = Duration::from_secs_f64(1.0 / self.args.touch_rate);
        let mut next = Instant::now();
        for (i, (kind, name)) in targets.iter().enumerate() {
            let api: Api<DynamicObject> =
                Api::namespaced_with(self.client.clone(), NS, &probe::resource(*kind));
            api.patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"annotations": {"bench.nno.app/touched": i.to_string()}}}),
                ),
            )
            .await
            .with_context(|| format!("touching {} {name}", kind.kind()))?;
            self.tick()?;
            self.progress
                .update("touching", i + 1, targets.len(), "objects annotated");
            next += gap;
            tokio::time::sleep_until(next.into()).await;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let (observed, buckets) = loop {
            let now = match self.operator.metrics().await {
                Some((p, text)) if p == pid => probe::histogram(&text, METRIC),
                _ => anyhow::bail!("the operator restarted while latency was measured"),
            };
            let diff = probe::histogram_between(&before, &now);
            let observed = diff.last().map_or(0, |(_, n)| *n);
            if observed >= targets.len() as u64 || Instant::now() >= deadline {
                break (observed, diff);
            }
            self.tick()?;
            tokio::time::sleep(TICK).await;
        };
        let ms = |q| probe::quantile(&buckets, q).map(|s| s * 1000.0);
        let w = WakeLatency {
            changes: targets.len(),
            observed,
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            touch_rate_per_s: self.args.touch_rate,
        };
        self.progress.println(&format!(
            "latency: watch→reconcile p50 {:?} ms, p99 {:?} ms over {observed} changes",
            w.p50_ms, w.p99_ms
        ));
        Ok(Some(w))
    }

    /// Deletes every object (the operator killed on the cadence again) and waits until all are
    /// gone. Returns the time it took and the objects left holding a finalizer.
    pub(super) async fn delete_all(&mut self) -> anyhow::Result<(Option<f64>, Vec<String>)> {
        let started = Instant::now();
        self.operator.start_killing();
        let targets: Vec<(String, BenchKind, String)> = self
            .watched
            .iter()
            .flat_map(|(w, _)| {
                w.names()
                    .into_iter()
                    .map(move |n| (w.ns.clone(), w.kind, n))
            })
            .collect();
        let client = self.client.clone();
        let deleting =
            in_background(targets, move |(ns, kind, name)| {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(client.clone(), &ns, &probe::resource(kind));
                async move {
                    match api.delete(&name, &DeleteParams::default()).await {
                        Ok(_) => Ok(()),
                        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
                        Err(e) => Err(anyhow::Error::new(e)
                            .context(format!("deleting {} {name}", kind.kind()))),
                    }
                }
            });
        let deadline = started + self.args.timeout;
        let mut gone_at = None;
        loop {
            self.tick()?;
            let (total, _, expected) = self.tallies();
            self.progress.update(
                "deleting",
                expected.saturating_sub(total),
                expected,
                &format!("gone, operator killed {}×", self.operator.kills),
            );
            if deleting.is_finished() && total == 0 {
                gone_at = Some(started.elapsed().as_secs_f64());
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(TICK).await;
        }
        self.operator.stop_killing();
        finished(deleting, "deleting the objects").await?;
        if let Some(t) = gone_at {
            self.progress
                .println(&format!("all objects deleted in {t:.1} s"));
        }
        let stuck = self
            .watched
            .iter()
            .flat_map(|(w, _)| w.remaining(20))
            .collect();
        Ok((gone_at, stuck))
    }

    pub(super) fn ready_invariant(&self, t: Option<f64>) -> Invariant {
        let (_, ready, expected) = self.tallies();
        let not_ready: Vec<String> = self
            .watched
            .iter()
            .flat_map(|(w, _)| w.not_ready(10))
            .collect();
        Invariant {
            name: "every object Ready".into(),
            pass: t.is_some(),
            detail: match t {
                Some(t) => format!("{expected} of {expected} Ready after {t:.1} s"),
                None => format!(
                    "{ready} of {expected} Ready at the deadline; e.g. {}",
                    not_ready.join("; ")
                ),
            },
        }
    }

    /// Per kind: (cloud objects now, Kubernetes objects expected), read once everything is Ready.
    pub(super) fn exact_counts(&self) -> BTreeMap<BenchKind, (usize, usize)> {
        let counts = probe::threenv_counts(&self.sims);
        self.mix
            .kinds()
            .filter_map(|(k, n)| k.cloud_count(&counts).map(|c| (k, (c, n))))
            .collect()
    }

    pub(super) fn duplicates_invariant(
        &self,
        exact: &BTreeMap<BenchKind, (usize, usize)>,
    ) -> Invariant {
        let mut problems = Vec::new();
        for (k, n) in self.mix.kinds() {
            if let Some(most) = self.most_seen.get(&k)
                && *most > n
            {
                problems.push(format!(
                    "{} cloud {}s for {n} objects at one sample",
                    most,
                    k.kind()
                ));
            }
            if let Some((now, n)) = exact.get(&k)
                && now != n
            {
                problems.push(format!(
                    "{now} cloud {}s for {n} objects once Ready",
                    k.kind()
                ));
            }
        }
        Invariant {
            name: "exactly one cloud object per Kubernetes object".into(),
            pass: problems.is_empty(),
            detail: if problems.is_empty() {
                format!(
                    "never more than one at any sample (every second), exactly one each once Ready: {}",
                    exact
                        .iter()
                        .map(|(k, (c, _))| format!("{} {c}", k.kind()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                problems.join("; ")
            },
        }
    }

    pub(super) fn orders_invariant(&self) -> Invariant {
        let c = probe::pax8_counts(&self.sims);
        let get = |k: &str| c.get(k).copied().unwrap_or(0);
        let (requests, results, open) = (
            get("provisionRequests"),
            get("provisionResults"),
            get("provisionRequestsUnfulfilled"),
        );
        let orders = self.args.orders;
        Invariant {
            name: "every Pax8 order answered exactly once".into(),
            pass: requests == orders && results == orders && open == 0,
            detail: format!(
                "{orders} orders placed, {requests} provision requests, {results} results posted, {open} unanswered"
            ),
        }
    }

    pub(super) fn leak_invariant(&self) -> Invariant {
        let counts = probe::threenv_counts(&self.sims);
        let mut left: Vec<String> = self
            .mix
            .kinds()
            .filter_map(|(k, _)| {
                k.cloud_count(&counts)
                    .filter(|n| *n > 0)
                    .map(|n| format!("{n} {}", k.kind()))
            })
            .collect();
        if self.mix.count(BenchKind::Vm) > 0 && counts.get("disks").copied().unwrap_or(0) > 0 {
            left.push(format!("{} disks (boot disks included)", counts["disks"]));
        }
        Invariant {
            name: "no cloud objects left after deletion".into(),
            pass: left.is_empty(),
            detail: if left.is_empty() {
                "the simulator holds none of the kinds created".into()
            } else {
                format!("left in the simulator: {}", left.join(", "))
            },
        }
    }

    /// Stops every process and the simulators; returns what the processes used.
    pub(super) async fn stop(mut self) -> Resources {
        self.progress.finish();
        // The watches end first, so that none reports the devcluster going away.
        self.watched.clear();
        let kills = self.operator.kills;
        let processes = self.operator.processes;
        let (op_peak, op_cpu) = self.operator.finish();
        let dc_peak = self.devcluster.kill().map_or(self.devcluster_peak, |u| {
            u.peak_rss_bytes.max(self.devcluster_peak)
        });
        self.sims.stop().await;
        let mib = |b: u64| b as f64 / 1024.0 / 1024.0;
        Resources {
            operator_peak_rss_mib: mib(op_peak),
            operator_cpu_seconds: op_cpu,
            operator_processes: processes,
            operator_kills: kills,
            devcluster_peak_rss_mib: mib(dc_peak),
        }
    }
}
