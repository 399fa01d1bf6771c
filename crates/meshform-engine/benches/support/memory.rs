//! The `memory` provider of the apply benchmark: `memory_object` resources kept in a map in this
//! process, so that an apply measured with it is meshform's own work (planning, scheduling, the
//! state journal and snapshot) without the file system's cost per object that `local_file` adds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use meshform_core::schema::{Attribute, ProviderSchema, Schema};
use meshform_core::{Type, Value};
use meshform_provider::{
    ConfiguredProvider, PlannedState, Progress, Provider, ProviderError, ProviderResult,
};

/// The objects by `name`, shared by every configured instance.
#[derive(Clone, Default)]
pub struct MemoryProvider {
    objects: Arc<Mutex<BTreeMap<String, Value>>>,
}

impl MemoryProvider {
    /// How many objects exist.
    pub fn len(&self) -> usize {
        meshform_core::sync::lock(&self.objects).len()
    }

    fn name_of(value: &Value) -> ProviderResult<String> {
        value
            .get_str("name")
            .map(str::to_owned)
            .ok_or_else(|| ProviderError::invalid_config("name", "name is required"))
    }

    fn put(&self, planned: &Value) -> ProviderResult<Value> {
        let name = Self::name_of(planned)?;
        let mut value = planned.clone();
        if let Value::Map(m) = &mut value {
            m.insert("id".to_owned(), Value::string(&name));
        }
        meshform_core::sync::lock(&self.objects).insert(name, value.clone());
        Ok(value)
    }

    fn get(&self, value: &Value) -> ProviderResult<Option<Value>> {
        let name = Self::name_of(value)?;
        Ok(meshform_core::sync::lock(&self.objects).get(&name).cloned())
    }
}

#[async_trait]
impl Provider for MemoryProvider {
    fn name(&self) -> &str {
        "memory"
    }

    fn schema(&self) -> ProviderSchema {
        let object = Schema::new("An object kept in the benchmark's memory.")
            .attr("name", Attribute::required(Type::String, "The object's name.").force_new())
            .attr("content", Attribute::optional(Type::String, "Anything."))
            .attr("id", Attribute::computed(Type::String, "The name."));
        ProviderSchema {
            provider: Schema::new("Objects in memory."),
            resources: BTreeMap::from([("memory_object".to_owned(), object)]),
            data_sources: BTreeMap::new(),
        }
    }

    async fn configure(&self, _config: &Value) -> ProviderResult<Arc<dyn ConfiguredProvider>> {
        Ok(Arc::new(self.clone()))
    }
}

#[async_trait]
impl ConfiguredProvider for MemoryProvider {
    async fn read(&self, _type_name: &str, current: &Value) -> ProviderResult<Option<Value>> {
        self.get(current)
    }

    async fn plan(
        &self,
        _type_name: &str,
        _prior: Option<&Value>,
        proposed: &Value,
    ) -> ProviderResult<PlannedState> {
        let mut planned = proposed.clone();
        if let Value::Map(m) = &mut planned {
            let name = m.get("name").cloned().unwrap_or(Value::Null);
            m.insert("id".to_owned(), name);
        }
        Ok(PlannedState::new(planned))
    }

    async fn create(
        &self,
        _type_name: &str,
        planned: &Value,
        _progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        self.put(planned)
    }

    async fn update(
        &self,
        _type_name: &str,
        _prior: &Value,
        planned: &Value,
        _progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        self.put(planned)
    }

    async fn delete(
        &self,
        _type_name: &str,
        prior: &Value,
        _progress: &dyn Progress,
    ) -> ProviderResult<()> {
        let name = Self::name_of(prior)?;
        meshform_core::sync::lock(&self.objects).remove(&name);
        Ok(())
    }

    async fn import(&self, _type_name: &str, id: &str) -> ProviderResult<Option<Value>> {
        Ok(meshform_core::sync::lock(&self.objects).get(id).cloned())
    }

    async fn lookup(&self, _type_name: &str, planned: &Value) -> ProviderResult<Option<Value>> {
        self.get(planned)
    }

    async fn read_data(&self, _type_name: &str, _config: &Value) -> ProviderResult<Value> {
        Err(ProviderError::invalid_config("", "the memory provider has no data sources"))
    }
}
