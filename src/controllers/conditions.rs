//! Status conditions from a reconcile's verdict: `Ready`, `Synced`, and the kstatus conditions
//! GitOps tools read (`Reconciling`, `Stalled`, present only while true). `lastTransitionTime`
//! moves only when a condition's status changes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::common::{CONDITION_READY, CONDITION_SYNCED, Condition, ConditionStatus};

/// kstatus: the object is converging.
pub const CONDITION_RECONCILING: &str = "Reconciling";
/// kstatus: the object cannot converge without outside help.
pub const CONDITION_STALLED: &str = "Stalled";

/// One condition's desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub ok: bool,
    pub reason: &'static str,
    pub message: String,
}

impl State {
    pub fn yes(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            ok: true,
            reason,
            message: message.into(),
        }
    }

    pub fn no(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            ok: false,
            reason,
            message: message.into(),
        }
    }
}

/// What a reconcile concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub synced: State,
    pub ready: State,
    /// `true` when the failure needs a person (invalid spec, rejected by the cloud).
    pub stalled: bool,
}

/// The conditions for `verdict`, reusing `previous` transition times where the status is unchanged.
pub fn build(
    previous: &[Condition],
    verdict: &Verdict,
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let mut ready = verdict.ready.clone();
    // Ready is never True while the spec of this generation is not applied.
    if ready.ok && !verdict.synced.ok {
        ready = State::no(verdict.synced.reason, verdict.synced.message.clone());
    }
    let mut out = vec![
        condition(previous, CONDITION_READY, &ready, generation, now),
        condition(previous, CONDITION_SYNCED, &verdict.synced, generation, now),
    ];
    if verdict.stalled {
        let s = State::yes(verdict.synced.reason, verdict.synced.message.clone());
        out.push(condition(previous, CONDITION_STALLED, &s, generation, now));
    } else if !ready.ok {
        let s = State::yes(ready.reason, ready.message.clone());
        out.push(condition(
            previous,
            CONDITION_RECONCILING,
            &s,
            generation,
            now,
        ));
    }
    out
}

/// A condition of a kind's own type (e.g. `CloudReady`), with the same transition-time rule.
pub fn extra(
    previous: &[Condition],
    type_: &str,
    state: &State,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    condition(previous, type_, state, generation, now)
}

fn condition(
    previous: &[Condition],
    type_: &str,
    state: &State,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    let status = if state.ok {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .or_else(|| Some(now.clone()));
    Condition {
        type_: type_.to_owned(),
        status,
        reason: state.reason.to_owned(),
        message: truncate(&state.message, 1024),
        last_transition_time,
        observed_generation: generation,
    }
}

/// The condition of `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn t(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    fn ok() -> Verdict {
        Verdict {
            synced: State::yes("ReconcileSuccess", ""),
            ready: State::yes("Available", ""),
            stalled: false,
        }
    }

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let first = build(&[], &ok(), Some(1), &t(100));
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|c| c.last_transition_time == Some(t(100))));
        // Same status, new reason/message/generation: time stays.
        let mut v = ok();
        v.ready.message = "still fine".into();
        let second = build(&first, &v, Some(2), &t(200));
        assert!(
            second
                .iter()
                .all(|c| c.last_transition_time == Some(t(100)))
        );
        assert!(second.iter().all(|c| c.observed_generation == Some(2)));
        // Status flips: time moves for that condition only.
        let mut v = ok();
        v.ready = State::no("Creating", "provisioning");
        let third = build(&second, &v, Some(2), &t(300));
        let ready = find(&third, "Ready").unwrap();
        assert_eq!(ready.last_transition_time, Some(t(300)));
        assert_eq!(
            find(&third, "Synced").unwrap().last_transition_time,
            Some(t(100))
        );
        let rec = find(&third, CONDITION_RECONCILING).unwrap();
        assert_eq!(rec.status, ConditionStatus::True);
        assert_eq!(rec.reason, "Creating");
    }

    #[test]
    fn never_ready_while_not_synced() {
        let v = Verdict {
            synced: State::no("RestartRequired", "vcpu 2 -> 4 needs a stop"),
            ready: State::yes("Available", ""),
            stalled: false,
        };
        let c = build(&[], &v, Some(3), &t(1));
        let ready = find(&c, "Ready").unwrap();
        assert_eq!(ready.status, ConditionStatus::False);
        assert_eq!(ready.reason, "RestartRequired");
        assert!(find(&c, CONDITION_RECONCILING).is_some());
    }

    #[test]
    fn stalled_replaces_reconciling() {
        let v = Verdict {
            synced: State::no("InvalidSpec", "bad name"),
            ready: State::no("InvalidSpec", "bad name"),
            stalled: true,
        };
        let c = build(&[], &v, Some(1), &t(1));
        assert!(find(&c, CONDITION_RECONCILING).is_none());
        assert_eq!(
            find(&c, CONDITION_STALLED).unwrap().status,
            ConditionStatus::True
        );
        // Healthy again: both kstatus conditions are gone.
        let c = build(&c, &ok(), Some(2), &t(2));
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary() {
        let long = "é".repeat(1000);
        let v = Verdict {
            synced: State::no("X", long),
            ready: State::no("X", ""),
            stalled: false,
        };
        let c = build(&[], &v, None, &t(1));
        assert!(find(&c, "Synced").unwrap().message.len() <= 1024 + 3);
    }
}
