//! References between objects: the shared caches (Platforms, VirtualMachines) fed by watches,
//! resolution of `vmRef` / `vmRefs` / `vmSelector` to the VMs' 3nv.io ids, and the reverse index
//! that wakes exactly the objects referring to a VirtualMachine that changed.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use kube::core::{DeserializeGuard, Selector, SelectorExt};
use kube::runtime::reflector::ObjectRef;

use crate::api::platform::Platform;
use crate::api::virtual_machine::VirtualMachine;

use super::error::ReconcileError;
use super::managed::ManagedKind;
use super::shared_watch::SharedWatch;

/// Watch-fed caches every controller reads references from, and whose changes wake dependents.
#[derive(Clone)]
pub struct Caches {
    pub platforms: SharedWatch<Platform>,
    pub vms: SharedWatch<DeserializeGuard<VirtualMachine>>,
}

/// The VirtualMachines a spec refers to, by name and by label selector.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct VmRefs {
    pub names: Vec<String>,
    pub selector: Option<LabelSelector>,
}

/// A referenced VirtualMachine as the operator knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct VmTarget {
    pub name: String,
    /// The VM's 3nv.io uuid.
    pub external_id: String,
    /// 3nv.io state (`running`, `stopped`, ...), when observed.
    pub state: Option<String>,
    /// The VM object is being deleted.
    pub deleting: bool,
    /// Location slug the VM lives in (`None`: the account's default), for location-specific calls.
    pub location: Option<String>,
    /// UUIDs of the disks attached to the VM, as last observed.
    pub disks: Vec<String>,
}

pub(super) fn target(vm: &VirtualMachine) -> Option<VmTarget> {
    let status = vm.status.as_ref()?;
    Some(VmTarget {
        name: vm.name_any(),
        external_id: status.common.external_id.clone()?,
        state: status.state.clone(),
        deleting: vm.metadata.deletion_timestamp.is_some(),
        location: status.location.clone(),
        disks: status.storage.iter().map(|d| d.uuid.clone()).collect(),
    })
}

impl Caches {
    fn vm_object(&self, ns: &str, name: &str) -> Option<VirtualMachine> {
        let key = ObjectRef::<DeserializeGuard<VirtualMachine>>::new(name).within(ns);
        self.vms
            .store()
            .get(&key)
            .and_then(|g| g.0.as_ref().ok().cloned())
    }

    /// The VM `name` in `ns`; `ReferenceNotReady` (naming `field`) while it is missing or has no
    /// 3nv.io id yet.
    pub fn vm(&self, ns: &str, name: &str, field: &str) -> Result<VmTarget, ReconcileError> {
        let vm = self.vm_object(ns, name).ok_or_else(|| {
            ReconcileError::ReferenceNotReady(format!(
                "VirtualMachine {name:?} ({field}) does not exist in namespace {ns:?}"
            ))
        })?;
        target(&vm).ok_or_else(|| {
            ReconcileError::ReferenceNotReady(format!(
                "VirtualMachine {name:?} ({field}) has no 3nv.io id yet"
            ))
        })
    }

    /// The VM `name` if it exists and has an id (for cleanup, where a missing VM means "detached").
    pub fn vm_if_known(&self, ns: &str, name: &str) -> Option<VmTarget> {
        self.vm_object(ns, name).as_ref().and_then(target)
    }

    /// The VM (in any namespace) whose observed storage lists disk `uuid`: where a disk is attached,
    /// as far as the operator's VMs show it.
    pub fn vm_with_disk(&self, uuid: &str) -> Option<VmTarget> {
        self.vms
            .store()
            .state()
            .iter()
            .filter_map(|g| g.0.as_ref().ok())
            .filter_map(target)
            .find(|vm| vm.external_id != uuid && vm.disks.iter().any(|d| d == uuid))
    }

    /// Every VM in `ns` whose labels match `selector` and that has a 3nv.io id, by name.
    pub fn vms_matching(
        &self,
        ns: &str,
        selector: &LabelSelector,
        field: &str,
    ) -> Result<Vec<VmTarget>, ReconcileError> {
        let sel = parse(selector).map_err(|e| {
            ReconcileError::InvalidSpec(format!("{field} is not a valid label selector: {e}"))
        })?;
        let mut out: Vec<VmTarget> = self
            .vms
            .store()
            .state()
            .iter()
            .filter_map(|g| g.0.as_ref().ok())
            .filter(|vm| vm.namespace().as_deref() == Some(ns) && sel.matches(vm.labels()))
            .filter_map(target)
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The VMs named in `refs.names` (each must resolve, see [`Caches::vm`]) and matched by
    /// `refs.selector`, once each, by name; VMs being deleted are left out (they get nothing new
    /// and lose what they had). `fields` names the spec fields in messages: (names, selector).
    pub fn vm_set(
        &self,
        ns: &str,
        refs: &VmRefs,
        fields: (&str, &str),
    ) -> Result<Vec<VmTarget>, ReconcileError> {
        let mut out: Vec<VmTarget> = Vec::new();
        for name in &refs.names {
            out.push(self.vm(ns, name, fields.0)?);
        }
        if let Some(sel) = &refs.selector {
            out.extend(self.vms_matching(ns, sel, fields.1)?);
        }
        out.retain(|v| !v.deleting);
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.dedup_by(|a, b| a.name == b.name);
        Ok(out)
    }
}

fn parse(selector: &LabelSelector) -> Result<Selector, String> {
    Selector::try_from(selector.clone()).map_err(|e| e.to_string())
}

/// Reverse index: which objects of kind `K` refer to which VirtualMachines.
pub struct RefIndex<K: ManagedKind> {
    inner: Mutex<Index<K>>,
}

struct Index<K: ManagedKind> {
    by_name: HashMap<(String, String), HashSet<ObjectRef<K>>>,
    refs: HashMap<ObjectRef<K>, (String, VmRefs)>,
}

impl<K: ManagedKind> Default for RefIndex<K> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Index {
                by_name: HashMap::new(),
                refs: HashMap::new(),
            }),
        }
    }
}

impl<K: ManagedKind> RefIndex<K> {
    /// Records what `obj` (in `ns`) refers to now, replacing what it referred to before.
    pub fn record(&self, obj: &ObjectRef<K>, ns: &str, refs: VmRefs) {
        let mut ix = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Self::drop_names(&mut ix, obj);
        for name in &refs.names {
            ix.by_name
                .entry((ns.to_owned(), name.clone()))
                .or_default()
                .insert(obj.clone());
        }
        if refs.names.is_empty() && refs.selector.is_none() {
            ix.refs.remove(obj);
        } else {
            ix.refs.insert(obj.clone(), (ns.to_owned(), refs));
        }
    }

    pub fn forget(&self, obj: &ObjectRef<K>) {
        let mut ix = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Self::drop_names(&mut ix, obj);
        ix.refs.remove(obj);
    }

    fn drop_names(ix: &mut Index<K>, obj: &ObjectRef<K>) {
        if let Some((ns, old)) = ix.refs.get(obj).cloned() {
            for name in old.names {
                let key = (ns.clone(), name);
                if let Some(set) = ix.by_name.get_mut(&key) {
                    set.remove(obj);
                    if set.is_empty() {
                        ix.by_name.remove(&key);
                    }
                }
            }
        }
    }

    /// The objects to wake when VirtualMachine `vm` in `ns` changes: those that name it, and every
    /// object there with a selector (a label change may move the VM into or out of it).
    pub fn dependents(&self, ns: &str, vm: &str) -> Vec<ObjectRef<K>> {
        let mut out: HashSet<ObjectRef<K>> = self
            .inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_name
            .get(&(ns.to_owned(), vm.to_owned()))
            .cloned()
            .unwrap_or_default();
        out.extend(self.selecting(ns));
        out.into_iter().collect()
    }

    /// Objects with a selector in `ns` (woken for every VM change there, since a label change may
    /// move a VM out of a selector).
    pub fn selecting(&self, ns: &str) -> Vec<ObjectRef<K>> {
        let ix = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        ix.refs
            .iter()
            .filter(|(_, (obj_ns, refs))| obj_ns == ns && refs.selector.is_some())
            .map(|(o, _)| o.clone())
            .collect()
    }
}
