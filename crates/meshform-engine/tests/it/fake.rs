//! The `test` provider: `test_thing` objects (and the `test_data` data source) in an in-memory cloud that
//! tests inspect and change behind meshform's back.
//!
//! The cloud gives every object an opaque id when it is created, like a real API: creating twice makes
//! two objects, which is how a duplicate create shows. `lookup` finds an object by `name`; deleting a
//! missing object succeeds and reading one returns `None`, as a real provider's would.
//!
//! Every create, update and delete is logged with a start and an end tick of one sequence counter, and
//! the cloud tracks how many are in flight at once. Tests can make operations fail (before or, for
//! creates, after the object was made), make `read` fail for an object, delay an operation (or only
//! its answer, after it took effect), or hold it until another one has started or until enough are in
//! flight.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use meshform_core::schema::{Attribute, ProviderSchema, Schema};
use meshform_core::{PathStep, Type, Value};
use meshform_provider::{
    ConfiguredProvider, ErrorKind, PlannedState, Progress, Provider, ProviderError, ProviderResult,
};

/// The longest a held operation waits for its condition before going on anyway (so that a wrong
/// engine makes a test fail instead of hang).
const HOLD_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpKind {
    Create,
    Update,
    Delete,
}

/// One create, update or delete the provider was asked to do.
#[derive(Clone, Debug)]
pub struct Op {
    pub kind: OpKind,
    /// The object's `name`.
    pub name: String,
    /// The object's id (for a create, the id it got; empty when it failed before making one).
    pub id: String,
    pub start: u64,
    /// `None` while in flight.
    pub end: Option<u64>,
    pub ok: bool,
}

impl Op {
    /// The end tick of a finished operation.
    pub fn end(&self) -> u64 {
        self.end.unwrap_or_else(|| panic!("{:?} {} has not finished", self.kind, self.name))
    }
}

/// An object in the cloud.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    pub name: String,
    pub value: Option<String>,
}

/// What makes an operation wait before it does anything.
#[derive(Clone, Debug)]
pub enum Hold {
    /// Until an operation on the object with this name has started.
    UntilStarted(String),
    /// Until at least this many operations have been in flight at once.
    UntilInFlight(usize),
}

#[derive(Default)]
pub struct CloudState {
    /// Objects by id.
    pub objects: BTreeMap<String, Object>,
    pub ops: Vec<Op>,
    /// Names of the objects `read` was called for (refreshes), in order.
    pub reads: Vec<String>,
    pub in_flight: usize,
    pub max_in_flight: usize,
    clock: u64,
    next_id: u64,
    fail: BTreeSet<(OpKind, String)>,
    fail_after_create: BTreeSet<String>,
    fail_read: BTreeSet<String>,
    delays: BTreeMap<String, Duration>,
    default_delay: Duration,
    respond_delays: BTreeMap<String, Duration>,
    holds: BTreeMap<String, Hold>,
    /// The `endpoint` of every configured provider instance that set one, in order.
    pub endpoints: Vec<String>,
}

impl CloudState {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("t-{:04}", self.next_id)
    }

    fn started(&self, name: &str) -> bool {
        self.ops.iter().any(|o| o.name == name)
    }
}

/// The in-memory cloud, shared by the provider and the test.
#[derive(Clone, Default)]
pub struct Cloud(Arc<Mutex<CloudState>>);

impl Cloud {
    pub fn lock(&self) -> MutexGuard<'_, CloudState> {
        meshform_core::sync::lock(&self.0)
    }

    /// The objects' names, sorted (a name appears twice when two objects have it).
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.lock().objects.values().map(|o| o.name.clone()).collect();
        v.sort();
        v
    }

    /// The id and object with this name (panics when there are several).
    pub fn get(&self, name: &str) -> Option<(String, Object)> {
        let s = self.lock();
        let found: Vec<_> = s.objects.iter().filter(|(_, o)| o.name == name).collect();
        assert!(found.len() <= 1, "{} objects named {name}: {found:?}", found.len());
        found.first().map(|(id, o)| ((*id).clone(), (*o).clone()))
    }

    pub fn id_of(&self, name: &str) -> String {
        self.get(name).unwrap_or_else(|| panic!("no object named {name}")).0
    }

    pub fn ops(&self) -> Vec<Op> {
        self.lock().ops.clone()
    }

    /// The operations of one kind, in start order.
    pub fn ops_of(&self, kind: OpKind) -> Vec<Op> {
        self.ops().into_iter().filter(|o| o.kind == kind).collect()
    }

    /// The one operation of this kind on this name (panics unless there is exactly one).
    pub fn op(&self, kind: OpKind, name: &str) -> Op {
        let found: Vec<Op> =
            self.ops().into_iter().filter(|o| o.kind == kind && o.name == name).collect();
        assert_eq!(found.len(), 1, "expected one {kind:?} of {name}, got {found:?}");
        found.into_iter().next().unwrap_or_else(|| unreachable!("checked above"))
    }

    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    pub fn in_flight(&self) -> usize {
        self.lock().in_flight
    }

    /// Forgets the operation log and the in-flight maximum (objects stay).
    pub fn clear_log(&self) {
        let mut s = self.lock();
        s.ops.clear();
        s.reads.clear();
        s.max_in_flight = s.in_flight;
    }

    /// Makes an object behind meshform's back; returns its id.
    pub fn insert_outside(&self, name: &str, value: Option<&str>) -> String {
        let mut s = self.lock();
        let id = s.new_id();
        s.objects.insert(id.clone(), Object { name: name.into(), value: value.map(Into::into) });
        id
    }

    /// Changes an object's value behind meshform's back.
    pub fn set_value_outside(&self, name: &str, value: Option<&str>) {
        let mut s = self.lock();
        let o = s.objects.values_mut().find(|o| o.name == name).expect("object to change exists");
        o.value = value.map(Into::into);
    }

    /// Deletes an object behind meshform's back.
    pub fn delete_outside(&self, name: &str) {
        self.lock().objects.retain(|_, o| o.name != name);
    }

    /// Makes this operation on this name fail (before it does anything).
    pub fn fail(&self, kind: OpKind, name: &str) {
        self.lock().fail.insert((kind, name.into()));
    }

    /// Makes the create of this name make the object and then report an error.
    pub fn fail_after_create(&self, name: &str) {
        self.lock().fail_after_create.insert(name.into());
    }

    /// Makes `read` (refresh) of this name fail.
    pub fn fail_read(&self, name: &str) {
        self.lock().fail_read.insert(name.into());
    }

    pub fn clear_faults(&self) {
        let mut s = self.lock();
        s.fail.clear();
        s.fail_after_create.clear();
        s.fail_read.clear();
        s.respond_delays.clear();
        s.holds.clear();
    }

    /// Every create, update and delete of this name takes this long.
    pub fn delay(&self, name: &str, d: Duration) {
        self.lock().delays.insert(name.into(), d);
    }

    /// Every create, update and delete takes this long (unless a per-name delay says otherwise).
    pub fn delay_all(&self, d: Duration) {
        self.lock().default_delay = d;
    }

    /// Operations on `name` take effect at once, but their answer takes this long to come back.
    pub fn respond_slowly(&self, name: &str, d: Duration) {
        self.lock().respond_delays.insert(name.into(), d);
    }

    /// Operations on `name` wait (up to a few seconds) until the hold's condition is met.
    pub fn hold(&self, name: &str, hold: Hold) {
        self.lock().holds.insert(name.into(), hold);
    }

    /// Waits (up to a few seconds) until this many operations are in flight.
    pub async fn wait_in_flight(&self, n: usize) {
        let deadline = Instant::now() + HOLD_TIMEOUT;
        while self.in_flight() < n {
            assert!(Instant::now() < deadline, "never saw {n} operations in flight");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Runs one mutating operation: logs its start, waits as configured, does `effect`, logs its end.
    async fn operate<T>(
        &self,
        kind: OpKind,
        name: &str,
        effect: impl FnOnce(&mut CloudState) -> (String, ProviderResult<T>),
    ) -> ProviderResult<T> {
        let (idx, delay, hold) = {
            let mut s = self.lock();
            let start = s.tick();
            s.ops.push(Op {
                kind,
                name: name.into(),
                id: String::new(),
                start,
                end: None,
                ok: false,
            });
            s.in_flight += 1;
            s.max_in_flight = s.max_in_flight.max(s.in_flight);
            let delay = s.delays.get(name).copied().unwrap_or(s.default_delay);
            (s.ops.len() - 1, delay, s.holds.get(name).cloned())
        };
        if let Some(hold) = hold {
            let deadline = Instant::now() + HOLD_TIMEOUT;
            loop {
                let met = {
                    let s = self.lock();
                    match &hold {
                        Hold::UntilStarted(other) => s.started(other),
                        Hold::UntilInFlight(n) => s.max_in_flight >= *n,
                    }
                };
                if met || Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let (id, result, respond) = {
            let mut s = self.lock();
            let (id, result) = if s.fail.contains(&(kind, name.to_owned())) {
                (
                    String::new(),
                    Err(ProviderError::new(
                        ErrorKind::Failed,
                        "Injected",
                        format!("{kind:?} of {name} failed"),
                    )),
                )
            } else {
                effect(&mut s)
            };
            (id, result, s.respond_delays.get(name).copied())
        };
        if let Some(d) = respond {
            tokio::time::sleep(d).await;
        }
        let mut s = self.lock();
        let end = s.tick();
        s.in_flight -= 1;
        let op = &mut s.ops[idx];
        op.id = id;
        op.end = Some(end);
        op.ok = result.is_ok();
        result
    }
}

fn thing_schema() -> Schema {
    Schema::new("A thing in the test cloud.")
        .attr("name", Attribute::required(Type::String, "The thing's name.").force_new())
        .attr("value", Attribute::optional(Type::String, "Any string."))
        .attr("id", Attribute::computed(Type::String, "Assigned by the cloud."))
}

fn data_schema() -> Schema {
    Schema::new("Reads a thing by name.")
        .attr("name", Attribute::required(Type::String, "The thing's name."))
        .attr("value", Attribute::computed(Type::String, "Its value."))
        .attr("id", Attribute::computed(Type::String, "Its id."))
}

fn thing_value(id: &str, o: &Object) -> Value {
    Value::map([
        ("id", Value::string(id)),
        ("name", Value::string(o.name.clone())),
        ("value", o.value.clone().map(Value::String).unwrap_or(Value::Null)),
    ])
}

/// The `test` provider, over a [`Cloud`].
#[derive(Clone)]
pub struct FakeProvider {
    pub cloud: Cloud,
}

#[async_trait]
impl Provider for FakeProvider {
    fn name(&self) -> &str {
        "test"
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: Schema::new("The test cloud.").attr(
                "endpoint",
                Attribute::optional(Type::String, "Recorded when the provider is configured."),
            ),
            resources: BTreeMap::from([("test_thing".to_owned(), thing_schema())]),
            data_sources: BTreeMap::from([("test_data".to_owned(), data_schema())]),
        }
    }

    async fn configure(&self, config: &Value) -> ProviderResult<Arc<dyn ConfiguredProvider>> {
        if let Some(e) = config.get_str("endpoint") {
            self.cloud.lock().endpoints.push(e.to_owned());
        }
        Ok(Arc::new(self.clone()))
    }
}

#[async_trait]
impl ConfiguredProvider for FakeProvider {
    async fn read(&self, _type_name: &str, current: &Value) -> ProviderResult<Option<Value>> {
        let id = current.get_str("id").map(str::to_owned).unwrap_or_default();
        let name = current.get_str("name").map(str::to_owned).unwrap_or_default();
        tokio::task::yield_now().await;
        let mut s = self.cloud.lock();
        s.reads.push(name.clone());
        if s.fail_read.contains(&name) {
            return Err(ProviderError::new(
                ErrorKind::Failed,
                "Injected",
                format!("reading {name} failed"),
            )
            .with_request_id("req-1"));
        }
        Ok(s.objects.get(&id).map(|o| thing_value(&id, o)))
    }

    async fn plan(
        &self,
        _type_name: &str,
        prior: Option<&Value>,
        proposed: &Value,
    ) -> ProviderResult<PlannedState> {
        let mut planned = proposed.clone();
        let Value::Map(m) = &mut planned else {
            return Err(ProviderError::new(
                ErrorKind::InvalidArgument,
                "InvalidConfig",
                "expected an object",
            ));
        };
        // A new object in an unreachable region cannot be planned (a server-side dry run fails).
        let name = m.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
        if prior.is_none() && self.cloud.lock().fail_read.contains(&name) {
            return Err(ProviderError::new(
                ErrorKind::Unavailable,
                "Unreachable",
                format!("the region of {name} is down"),
            ));
        }
        let id = prior.and_then(|p| p.get("id")).cloned().unwrap_or(Value::Unknown);
        m.insert("id".into(), id);
        let mut requires_replace = Vec::new();
        if let Some(prior) = prior {
            let before = prior.get("name").cloned().unwrap_or(Value::Null);
            if !before.same_as(m.get("name").unwrap_or(&Value::Null)) {
                requires_replace.push(vec![PathStep::Key("name".into())]);
            }
        }
        Ok(PlannedState { planned, requires_replace, ..PlannedState::default() })
    }

    async fn create(
        &self,
        _type_name: &str,
        planned: &Value,
        _progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        let name = planned.get_str("name").map(str::to_owned).ok_or_else(|| {
            ProviderError::new(ErrorKind::InvalidArgument, "InvalidConfig", "name is required")
        })?;
        let value = planned.get_str("value").map(str::to_owned);
        self.cloud
            .operate(OpKind::Create, &name.clone(), move |s| {
                let id = s.new_id();
                let o = Object { name: name.clone(), value };
                let v = thing_value(&id, &o);
                s.objects.insert(id.clone(), o);
                if s.fail_after_create.contains(&name) {
                    let e = ProviderError::new(
                        ErrorKind::Failed,
                        "Injected",
                        format!("{name} was made but is broken"),
                    );
                    return (id, Err(e));
                }
                (id, Ok(v))
            })
            .await
    }

    async fn update(
        &self,
        _type_name: &str,
        prior: &Value,
        planned: &Value,
        _progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        let id = prior.get_str("id").map(str::to_owned).unwrap_or_default();
        let name = planned.get_str("name").map(str::to_owned).unwrap_or_default();
        let value = planned.get_str("value").map(str::to_owned);
        self.cloud
            .operate(OpKind::Update, &name, move |s| match s.objects.get_mut(&id) {
                Some(o) => {
                    o.value = value;
                    let v = thing_value(&id, o);
                    (id, Ok(v))
                }
                None => (
                    id.clone(),
                    Err(ProviderError::new(
                        ErrorKind::NotFound,
                        "NotFound",
                        format!("no thing {id}"),
                    )),
                ),
            })
            .await
    }

    async fn delete(
        &self,
        _type_name: &str,
        prior: &Value,
        _progress: &dyn Progress,
    ) -> ProviderResult<()> {
        let id = prior.get_str("id").map(str::to_owned).unwrap_or_default();
        let name = prior.get_str("name").map(str::to_owned).unwrap_or_default();
        self.cloud
            .operate(OpKind::Delete, &name, move |s| {
                s.objects.remove(&id);
                (id, Ok(()))
            })
            .await
    }

    async fn import(&self, _type_name: &str, id: &str) -> ProviderResult<Option<Value>> {
        Ok(self.cloud.lock().objects.get(id).map(|o| thing_value(id, o)))
    }

    async fn lookup(&self, _type_name: &str, planned: &Value) -> ProviderResult<Option<Value>> {
        let Some(name) = planned.get_str("name").map(str::to_owned) else { return Ok(None) };
        let s = self.cloud.lock();
        // The newest object with that name.
        Ok(s.objects.iter().rev().find(|(_, o)| o.name == name).map(|(id, o)| thing_value(id, o)))
    }

    async fn read_data(&self, _type_name: &str, config: &Value) -> ProviderResult<Value> {
        let name = config.get_str("name").map(str::to_owned).unwrap_or_default();
        let s = self.cloud.lock();
        if s.fail_read.contains(&name) {
            return Err(ProviderError::new(
                ErrorKind::Unavailable,
                "Unreachable",
                format!("the region of {name} is down"),
            ));
        }
        let (id, o) = s.objects.iter().find(|(_, o)| o.name == name).ok_or_else(|| {
            ProviderError::new(ErrorKind::NotFound, "NotFound", format!("no thing named {name}"))
        })?;
        Ok(thing_value(id, o))
    }
}
