//! The `pki` provider: one root of trust shared by every mesh, and one intermediate CA per mesh.
//!
//! In a multi-master mesh every control plane issues workload certificates, and proxies in different
//! clusters trust each other only because every mesh's CA chains to one shared root. The provider
//! generates that root (or validates one the user brings) and signs per-cluster intermediates with
//! Istio's plug-in CA profile, so that meshes can be created in parallel with their CA given up front.
//!
//! - [`keys`]: key algorithms and generation; [`cert`]: issuing and inspecting certificates;
//!   [`duration`]: `87600h`-style durations; [`resources`]: the resource and data source logic.
//!
//! Keys are generated at apply time and live only in state (marked sensitive); nothing exists remotely,
//! so `read` returns what state holds and `lookup` finds nothing.

pub mod cert;
pub mod duration;
pub mod keys;
pub mod resources;

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use meshform_core::schema::{Attribute, ProviderSchema, Schema};
use meshform_core::{Mode, Type, Value};
use meshform_provider::{
    AttributeProblem, ConfiguredProvider, DataSourceType, ErrorKind, PlannedState, Progress,
    Provider, ProviderError, ProviderResult, ResourceType, TypeTable,
};

use crate::resources::CaKind;

/// The `pki` provider.
#[derive(Debug, Clone, Default)]
pub struct PkiProvider;

fn ca_common(schema: Schema) -> Schema {
    schema
        .attr("common_name", Attribute::optional_computed(Type::String, "Subject CN.").force_new())
        .attr(
            "organization",
            Attribute::optional_computed(
                Type::String,
                "Subject O (default \"Istio\", as Istio's tooling).",
            )
            .force_new(),
        )
        .attr(
            "key_algorithm",
            Attribute::optional_computed(
                Type::String,
                "ecdsa_p256 (default), ecdsa_p384, rsa_2048 or rsa_4096.",
            )
            .force_new(),
        )
        .attr(
            "validity",
            Attribute::optional_computed(
                Type::String,
                "How long the certificate is valid, e.g. 87600h (default: 10 years).",
            )
            .force_new(),
        )
        .attr(
            "rotate_before",
            Attribute::optional_computed(
                Type::String,
                "Plan a replacement this long before expiry (default 720h).",
            ),
        )
        .attr("id", Attribute::computed(Type::String, "The certificate's SHA-256 fingerprint."))
        .attr(
            "fingerprint_sha256",
            Attribute::computed(Type::String, "Hex SHA-256 of the certificate (DER)."),
        )
        .attr("not_before", Attribute::computed(Type::String, "Start of validity (RFC 3339)."))
        .attr("not_after", Attribute::computed(Type::String, "End of validity (RFC 3339)."))
        .attr("serial", Attribute::computed(Type::String, "Serial number (hex)."))
}

/// The schema of `pki_root_ca`.
pub fn root_schema() -> Schema {
    ca_common(Schema::new("A root CA: the shared root of trust of every mesh. Generated, or brought (cert_pem + key_pem)."))
        .attr("cert_pem", Attribute::optional_computed(Type::String, "The root certificate (PEM). Give it with key_pem to bring an existing root.").force_new())
        .attr("key_pem", Attribute::optional_computed(Type::String, "The root's private key (PEM).").sensitive().force_new())
}

/// The schema of `pki_intermediate_ca`.
pub fn intermediate_schema() -> Schema {
    ca_common(Schema::new(
        "A per-cluster intermediate CA signed by a root (Istio plug-in CA profile, pathlen 0).",
    ))
    .attr(
        "root_cert_pem",
        Attribute::required(
            Type::String,
            "The signing root's certificate (pki_root_ca.x.cert_pem).",
        )
        .force_new(),
    )
    .attr(
        "root_key_pem",
        Attribute::required(Type::String, "The signing root's key (pki_root_ca.x.key_pem).")
            .sensitive()
            .force_new(),
    )
    .attr(
        "locality",
        Attribute::optional(
            Type::String,
            "Subject L: the cluster name, as Istio's tooling sets it.",
        )
        .force_new(),
    )
    .attr(
        "dns_names",
        Attribute::optional_computed(
            Type::List(Box::new(Type::String)),
            "DNS SANs (default [\"istiod.istio-system.svc\"]).",
        )
        .force_new(),
    )
    .attr(
        "cert_pem",
        Attribute::computed(
            Type::String,
            "The intermediate certificate (PEM): Istio's ca-cert.pem.",
        ),
    )
    .attr(
        "key_pem",
        Attribute::computed(Type::String, "Its private key (PEM): Istio's ca-key.pem.").sensitive(),
    )
    .attr(
        "cert_chain_pem",
        Attribute::computed(Type::String, "Intermediate then root (PEM): Istio's cert-chain.pem."),
    )
}

/// The schema of the `pki_istio_cacerts` data source.
pub fn cacerts_schema() -> Schema {
    Schema::new("Renders Istio's `cacerts` Secret (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem) from an intermediate.")
        .attr("ca_cert_pem", Attribute::required(Type::String, "pki_intermediate_ca.x.cert_pem"))
        .attr("ca_key_pem", Attribute::required(Type::String, "pki_intermediate_ca.x.key_pem").sensitive())
        .attr("cert_chain_pem", Attribute::required(Type::String, "pki_intermediate_ca.x.cert_chain_pem"))
        .attr("root_cert_pem", Attribute::required(Type::String, "pki_intermediate_ca.x.root_cert_pem or pki_root_ca.x.cert_pem"))
        .attr("namespace", Attribute::optional_computed(Type::String, "Namespace of the Secret (default istio-system)."))
        .attr("files", Attribute::computed(Type::Map(Box::new(Type::String)), "File name → PEM, as `kubectl create secret generic cacerts --from-file` expects.").sensitive())
        .attr("secret", Attribute::computed(Type::Any, "The Secret object (apiVersion, kind, metadata, type, data) for a Kubernetes provider.").sensitive())
}

/// The provider's types, by name.
static TYPES: LazyLock<Arc<TypeTable<()>>> = LazyLock::new(|| {
    Arc::new(
        TypeTable::new("pki")
            .resource("pki_root_ca", Ca(CaKind::Root))
            .resource("pki_intermediate_ca", Ca(CaKind::Intermediate))
            .data_source("pki_istio_cacerts", IstioCacerts),
    )
});

#[async_trait]
impl Provider for PkiProvider {
    fn name(&self) -> &str {
        "pki"
    }

    fn schema(&self) -> ProviderSchema {
        TYPES.schema(Schema::new("Certificate authorities generated locally. No configuration."))
    }

    fn validate(&self, mode: Mode, type_name: &str, config: &Value) -> Vec<AttributeProblem> {
        TYPES.validate(mode, type_name, config)
    }

    async fn configure(&self, _config: &Value) -> ProviderResult<Arc<dyn ConfiguredProvider>> {
        Ok(TYPES.bind(Arc::new(()), usize::MAX))
    }
}

/// `pki_root_ca` and `pki_intermediate_ca`. Nothing exists outside the state: the object is what
/// state holds, and a create that did not finish left nothing to find.
pub struct Ca(pub CaKind);

#[async_trait]
impl ResourceType<()> for Ca {
    fn schema(&self) -> Schema {
        match self.0 {
            CaKind::Root => root_schema(),
            CaKind::Intermediate => intermediate_schema(),
        }
    }

    fn validate(&self, config: &Value) -> Vec<AttributeProblem> {
        resources::validate(self.0, config)
    }

    async fn plan(
        &self,
        _client: &(),
        _schema: &Schema,
        prior: Option<&Value>,
        proposed: &Value,
    ) -> ProviderResult<PlannedState> {
        resources::plan(self.0, prior, proposed, time::OffsetDateTime::now_utc())
    }

    async fn read(&self, _client: &(), current: &Value) -> ProviderResult<Option<Value>> {
        Ok(Some(current.clone()))
    }

    async fn create(
        &self,
        _client: &(),
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        progress.status("generating keys");
        let (kind, planned) = (self.0, planned.clone());
        tokio::task::spawn_blocking(move || resources::create(kind, &planned)).await.map_err(
            |e| {
                ProviderError::new(
                    ErrorKind::Internal,
                    "Internal",
                    format!("key generation task failed: {e}"),
                )
            },
        )?
    }

    /// Only rotate_before updates in place; the certificate is unchanged.
    async fn update(
        &self,
        _client: &(),
        _prior: &Value,
        planned: &Value,
        _progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        Ok(planned.clone())
    }

    async fn delete(
        &self,
        _client: &(),
        _prior: &Value,
        _progress: &dyn Progress,
    ) -> ProviderResult<()> {
        Ok(())
    }

    /// A create that did not finish left no certificate anywhere: it is simply generated again.
    async fn lookup(&self, _client: &(), _planned: &Value) -> ProviderResult<Option<Value>> {
        Ok(None)
    }

    async fn import(&self, _client: &(), _id: &str) -> ProviderResult<Option<Value>> {
        let type_name = match self.0 {
            CaKind::Root => "pki_root_ca",
            CaKind::Intermediate => "pki_intermediate_ca",
        };
        Err(ProviderError::new(
            ErrorKind::Unsupported,
            "ImportUnsupported",
            format!("{type_name} cannot be imported: to adopt an existing root, set cert_pem and key_pem in its configuration"),
        ))
    }
}

/// The `pki_istio_cacerts` data source.
pub struct IstioCacerts;

#[async_trait]
impl DataSourceType<()> for IstioCacerts {
    fn schema(&self) -> Schema {
        cacerts_schema()
    }

    async fn read(&self, _client: &(), config: &Value) -> ProviderResult<Value> {
        resources::read_cacerts(config)
    }
}
