//! A resource type is a type: [`ResourceType`] and [`DataSourceType`] are implemented once per kind
//! of object against a provider's configured client `C`, registered by name in a [`TypeTable`], and
//! [`TypeTable::bind`] turns the table and a client into the [`ConfiguredProvider`] the engine calls —
//! the only place a type name is matched.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use meshform_core::{Mode, ProviderSchema, Schema, Value};

use crate::{
    plan_by_schema, AttributeProblem, ConfiguredProvider, ErrorKind, PlannedState, Progress,
    ProviderError, ProviderResult,
};

/// One managed resource type (`asm_service_mesh`, `local_file`, …) of a provider whose configured
/// client is `C`. Every operation is idempotent and cancellation-safe.
#[async_trait]
pub trait ResourceType<C>: Send + Sync {
    fn schema(&self) -> Schema;

    /// Checks a configuration beyond what the schema says. Values may be unknown. No network.
    fn validate(&self, _config: &Value) -> Vec<AttributeProblem> {
        Vec::new()
    }

    /// Normalises a proposed value against the prior one (`None` for a create); must not change
    /// anything. The default follows the schema ([`plan_by_schema`]).
    async fn plan(
        &self,
        _client: &C,
        schema: &Schema,
        prior: Option<&Value>,
        proposed: &Value,
    ) -> ProviderResult<PlannedState> {
        Ok(plan_by_schema(schema, prior, proposed))
    }

    /// Refreshes one object from its last known value; `None` when it no longer exists.
    async fn read(&self, client: &C, current: &Value) -> ProviderResult<Option<Value>>;

    async fn create(
        &self,
        client: &C,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value>;

    /// Applies the attributes that change in place (those not marked `force_new`).
    async fn update(
        &self,
        client: &C,
        prior: &Value,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value>;

    async fn delete(
        &self,
        client: &C,
        prior: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<()>;

    /// Finds an existing object by the identifying attributes of a planned value — how a run that
    /// died between a create call and saving its result adopts the object instead of duplicating it.
    async fn lookup(&self, client: &C, planned: &Value) -> ProviderResult<Option<Value>>;

    /// Reads an existing object by its id, for `meshform import`. The default refuses.
    async fn import(&self, _client: &C, _id: &str) -> ProviderResult<Option<Value>> {
        Err(ProviderError::new(
            ErrorKind::Unsupported,
            "ImportUnsupported",
            "this resource type cannot be imported",
        ))
    }
}

/// One data source type of a provider whose configured client is `C`.
#[async_trait]
pub trait DataSourceType<C>: Send + Sync {
    fn schema(&self) -> Schema;

    /// Checks a configuration beyond what the schema says. Values may be unknown. No network.
    fn validate(&self, _config: &Value) -> Vec<AttributeProblem> {
        Vec::new()
    }

    async fn read(&self, client: &C, config: &Value) -> ProviderResult<Value>;
}

struct Entry<T: ?Sized> {
    schema: Schema,
    imp: Box<T>,
}

/// A provider's resource and data source types by name, with their schemas (built once).
pub struct TypeTable<C> {
    provider: &'static str,
    resources: BTreeMap<String, Entry<dyn ResourceType<C>>>,
    data_sources: BTreeMap<String, Entry<dyn DataSourceType<C>>>,
}

impl<C> std::fmt::Debug for TypeTable<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypeTable")
            .field("provider", &self.provider)
            .field("resources", &self.resources.keys().collect::<Vec<_>>())
            .field("data_sources", &self.data_sources.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<C: Send + Sync + 'static> TypeTable<C> {
    /// An empty table for the provider called `provider` (used in error messages).
    pub fn new(provider: &'static str) -> TypeTable<C> {
        TypeTable { provider, resources: BTreeMap::new(), data_sources: BTreeMap::new() }
    }

    /// Registers a resource type under `name`.
    pub fn resource(mut self, name: &str, imp: impl ResourceType<C> + 'static) -> TypeTable<C> {
        let entry = Entry { schema: imp.schema(), imp: Box::new(imp) as Box<dyn ResourceType<C>> };
        self.resources.insert(name.to_owned(), entry);
        self
    }

    /// Registers a data source type under `name`.
    pub fn data_source(
        mut self,
        name: &str,
        imp: impl DataSourceType<C> + 'static,
    ) -> TypeTable<C> {
        let entry =
            Entry { schema: imp.schema(), imp: Box::new(imp) as Box<dyn DataSourceType<C>> };
        self.data_sources.insert(name.to_owned(), entry);
        self
    }

    /// The provider's whole schema, given its configuration block's.
    pub fn schema(&self, provider: Schema) -> ProviderSchema {
        ProviderSchema {
            provider,
            resources: self.resources.iter().map(|(k, e)| (k.clone(), e.schema.clone())).collect(),
            data_sources: self
                .data_sources
                .iter()
                .map(|(k, e)| (k.clone(), e.schema.clone()))
                .collect(),
        }
    }

    /// The type's own checks of a configuration (nothing for a type the table does not have: the
    /// engine reports unknown types from the schema).
    pub fn validate(&self, mode: Mode, type_name: &str, config: &Value) -> Vec<AttributeProblem> {
        match mode {
            Mode::Managed => self.resources.get(type_name).map(|e| e.imp.validate(config)),
            Mode::Data => self.data_sources.get(type_name).map(|e| e.imp.validate(config)),
        }
        .unwrap_or_default()
    }

    /// The configured provider dispatching through this table to `client`.
    pub fn bind(
        self: &Arc<Self>,
        client: Arc<C>,
        concurrency: usize,
    ) -> Arc<dyn ConfiguredProvider> {
        Arc::new(BoundTypes { table: Arc::clone(self), client, concurrency })
    }

    fn managed(&self, type_name: &str) -> ProviderResult<&Entry<dyn ResourceType<C>>> {
        self.resources
            .get(type_name)
            .ok_or_else(|| ProviderError::unknown_type(self.provider, type_name))
    }
}

/// A [`TypeTable`] bound to one configured client: what the engine calls.
struct BoundTypes<C> {
    table: Arc<TypeTable<C>>,
    client: Arc<C>,
    concurrency: usize,
}

#[async_trait]
impl<C: Send + Sync + 'static> ConfiguredProvider for BoundTypes<C> {
    async fn read(&self, type_name: &str, current: &Value) -> ProviderResult<Option<Value>> {
        self.table.managed(type_name)?.imp.read(&self.client, current).await
    }

    async fn plan(
        &self,
        type_name: &str,
        prior: Option<&Value>,
        proposed: &Value,
    ) -> ProviderResult<PlannedState> {
        let e = self.table.managed(type_name)?;
        e.imp.plan(&self.client, &e.schema, prior, proposed).await
    }

    async fn create(
        &self,
        type_name: &str,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        self.table.managed(type_name)?.imp.create(&self.client, planned, progress).await
    }

    async fn update(
        &self,
        type_name: &str,
        prior: &Value,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        self.table.managed(type_name)?.imp.update(&self.client, prior, planned, progress).await
    }

    async fn delete(
        &self,
        type_name: &str,
        prior: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<()> {
        self.table.managed(type_name)?.imp.delete(&self.client, prior, progress).await
    }

    async fn import(&self, type_name: &str, id: &str) -> ProviderResult<Option<Value>> {
        self.table.managed(type_name)?.imp.import(&self.client, id).await
    }

    async fn lookup(&self, type_name: &str, planned: &Value) -> ProviderResult<Option<Value>> {
        self.table.managed(type_name)?.imp.lookup(&self.client, planned).await
    }

    async fn read_data(&self, type_name: &str, config: &Value) -> ProviderResult<Value> {
        let e = self
            .table
            .data_sources
            .get(type_name)
            .ok_or_else(|| ProviderError::unknown_type(self.table.provider, type_name))?;
        e.imp.read(&self.client, config).await
    }

    fn concurrency(&self) -> usize {
        self.concurrency
    }
}

#[cfg(test)]
mod tests {
    use meshform_core::{Attribute, PathStep, Type};

    use super::*;
    use crate::NoProgress;

    /// A client that records nothing: the types below answer from their arguments.
    struct Client;

    struct Note;

    #[async_trait]
    impl ResourceType<Client> for Note {
        fn schema(&self) -> Schema {
            Schema::new("a note")
                .attr("text", Attribute::required(Type::String, "text").force_new())
                .attr("id", Attribute::computed(Type::String, "id"))
        }
        fn validate(&self, config: &Value) -> Vec<AttributeProblem> {
            match config.get_str("text") {
                Some("") => vec![AttributeProblem {
                    path: vec![PathStep::Key("text".into())],
                    message: "empty".into(),
                    is_error: true,
                }],
                _ => Vec::new(),
            }
        }
        async fn read(&self, _: &Client, current: &Value) -> ProviderResult<Option<Value>> {
            Ok(Some(current.clone()))
        }
        async fn create(&self, _: &Client, v: &Value, _: &dyn Progress) -> ProviderResult<Value> {
            Ok(v.clone())
        }
        async fn update(
            &self,
            _: &Client,
            _: &Value,
            v: &Value,
            _: &dyn Progress,
        ) -> ProviderResult<Value> {
            Ok(v.clone())
        }
        async fn delete(&self, _: &Client, _: &Value, _: &dyn Progress) -> ProviderResult<()> {
            Ok(())
        }
        async fn lookup(&self, _: &Client, _: &Value) -> ProviderResult<Option<Value>> {
            Ok(None)
        }
    }

    struct Echo;

    #[async_trait]
    impl DataSourceType<Client> for Echo {
        fn schema(&self) -> Schema {
            Schema::new("echo").attr("text", Attribute::optional(Type::String, "text"))
        }
        async fn read(&self, _: &Client, config: &Value) -> ProviderResult<Value> {
            Ok(config.clone())
        }
    }

    fn table() -> Arc<TypeTable<Client>> {
        Arc::new(TypeTable::new("demo").resource("demo_note", Note).data_source("demo_note", Echo))
    }

    #[test]
    fn schema_and_validation_follow_the_registered_types_and_the_mode() {
        let t = table();
        let s = t.schema(Schema::new("demo"));
        assert_eq!(s.resources.keys().collect::<Vec<_>>(), ["demo_note"]);
        assert_eq!(s.data_sources.keys().collect::<Vec<_>>(), ["demo_note"]);
        let empty = Value::map([("text", Value::string(""))]);
        assert_eq!(t.validate(Mode::Managed, "demo_note", &empty).len(), 1);
        assert!(t.validate(Mode::Data, "demo_note", &empty).is_empty(), "the data source's own");
        assert!(t.validate(Mode::Managed, "demo_other", &empty).is_empty());
    }

    #[tokio::test]
    async fn a_bound_table_dispatches_by_type_and_names_unknown_types() {
        let p = table().bind(Arc::new(Client), 3);
        assert_eq!(p.concurrency(), 3);
        let prior = Value::map([("text", Value::string("a")), ("id", Value::string("1"))]);
        let proposed = Value::map([("text", Value::string("b")), ("id", Value::Null)]);
        let planned = p.plan("demo_note", Some(&prior), &proposed).await.unwrap();
        assert_eq!(planned.requires_replace, vec![vec![PathStep::Key("text".into())]]);
        assert_eq!(planned.planned.get("id"), Some(&Value::Unknown), "default plan: by schema");
        let made = p.create("demo_note", &proposed, &NoProgress).await.unwrap();
        assert_eq!(made.get_str("text"), Some("b"));
        assert_eq!(p.read_data("demo_note", &proposed).await.unwrap(), proposed);
        let e = p.read("demo_thing", &prior).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert_eq!(e.to_string(), "UnknownType: the demo provider has no type demo_thing");
        let e = p.import("demo_note", "1").await.unwrap_err();
        assert_eq!((e.kind, e.code.as_str()), (ErrorKind::Unsupported, "ImportUnsupported"));
    }
}
