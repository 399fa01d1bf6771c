//! Schemas that providers declare for their configuration, resources and data sources.

use std::collections::BTreeMap;

use crate::types::Type;

/// One attribute of a block.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub ty: Type,
    pub description: &'static str,
    pub required: bool,
    pub optional: bool,
    /// Set by the provider (possibly also settable when `optional`).
    pub computed: bool,
    pub sensitive: bool,
    /// A change to this attribute cannot be applied in place.
    pub force_new: bool,
}

impl Attribute {
    fn new(ty: Type, description: &'static str) -> Attribute {
        Attribute {
            ty,
            description,
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            force_new: false,
        }
    }

    pub fn required(ty: Type, description: &'static str) -> Attribute {
        Attribute { required: true, ..Attribute::new(ty, description) }
    }

    pub fn optional(ty: Type, description: &'static str) -> Attribute {
        Attribute { optional: true, ..Attribute::new(ty, description) }
    }

    pub fn computed(ty: Type, description: &'static str) -> Attribute {
        Attribute { computed: true, ..Attribute::new(ty, description) }
    }

    /// Optional in configuration, computed by the provider when absent.
    pub fn optional_computed(ty: Type, description: &'static str) -> Attribute {
        Attribute { optional: true, computed: true, ..Attribute::new(ty, description) }
    }

    pub fn sensitive(mut self) -> Attribute {
        self.sensitive = true;
        self
    }

    pub fn force_new(mut self) -> Attribute {
        self.force_new = true;
        self
    }

    /// Whether a configuration may set this attribute.
    pub fn settable(&self) -> bool {
        self.required || self.optional
    }
}

/// How a nested block repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockNesting {
    /// At most one block; its value is an object (or null).
    Single,
    /// Any number of blocks; the value is a list of objects.
    List,
}

/// A nested block type (`timeouts { … }`, `cluster { … }`).
#[derive(Clone, Debug, PartialEq)]
pub struct NestedBlock {
    pub nesting: BlockNesting,
    pub schema: Schema,
    pub min_items: usize,
    pub max_items: Option<usize>,
    pub force_new: bool,
}

/// The schema of a block: a provider's configuration, a resource type or a data source.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    pub description: &'static str,
    pub attributes: BTreeMap<String, Attribute>,
    pub blocks: BTreeMap<String, NestedBlock>,
}

impl Schema {
    pub fn new(description: &'static str) -> Schema {
        Schema { description, ..Schema::default() }
    }

    pub fn attr(mut self, name: &str, attr: Attribute) -> Schema {
        self.attributes.insert(name.to_owned(), attr);
        self
    }

    pub fn block(mut self, name: &str, block: NestedBlock) -> Schema {
        self.blocks.insert(name.to_owned(), block);
        self
    }

    /// Every settable attribute and block name, for "did you mean" suggestions.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.attributes.keys().chain(self.blocks.keys()).map(String::as_str)
    }

    /// Whether the attribute at this top-level name is sensitive.
    pub fn is_sensitive(&self, name: &str) -> bool {
        self.attributes.get(name).is_some_and(|a| a.sensitive)
    }
}

/// Everything a provider declares: its own configuration block, resource types and data sources.
#[derive(Clone, Debug, Default)]
pub struct ProviderSchema {
    pub provider: Schema,
    pub resources: BTreeMap<String, Schema>,
    pub data_sources: BTreeMap<String, Schema>,
}
