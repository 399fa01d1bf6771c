//! The `meshform { encryption { … } }` block: how the state and saved plan files are encrypted at
//! rest ([`meshform_state::encryption`]), after OpenTofu's block of the same name.
//!
//! ```hcl
//! meshform {
//!   encryption {
//!     key_provider "pbkdf2" "main" {
//!       passphrase = var.state_passphrase   # at least 16 characters
//!       iterations = 600000                 # optional; at least 200000
//!     }
//!     key_provider "alicloud_kms" "kms" {      # a fresh data key per write
//!       kms_key_id = "alias/meshform-state"
//!       region     = "cn-hangzhou"
//!       # key_spec = "AES_256", endpoint = "https://…", encryption_context = { … }
//!     }
//!     method "aes_gcm" "main" { keys = key_provider.pbkdf2.main }
//!     method "unencrypted" "migrate" {}
//!     state {
//!       method = method.aes_gcm.main
//!       fallback { method = method.unencrypted.migrate }   # read plaintext once, then drop it
//!     }
//!     plan { method = method.aes_gcm.main }
//!   }
//! }
//! ```
//!
//! Values are evaluated before anything else, with only the variables in scope (`var.NAME`, from
//! `MESHFORM_VAR_NAME`, variables files or defaults). Without a `state` (or `plan`) block that target
//! is stored in plaintext, and an encrypted one is refused. A KMS key provider calls the service the
//! binary passes in [`KeyServices`] (this crate makes no network call of its own).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use meshform_config::eval::{Evaluator, MapScope};
use meshform_config::model::{AttrDef, BlockBody, Config, NestedBlockDef};
use meshform_core::{Diagnostic, Diagnostics, Value};
use meshform_state::encryption::{
    DataKeyService, Encryption, KeyProvider, KmsKey, KmsKeySettings, Method, Pbkdf2Key, Target,
    DEFAULT_ITERATIONS, MIN_ITERATIONS,
};

const CODE: &str = "meshform::config::encryption";

/// The encryption of the state and of saved plan files.
#[derive(Clone, Debug)]
pub struct Encryptions {
    pub state: Arc<Encryption>,
    pub plan: Arc<Encryption>,
    /// The variables passphrases are taken from: a saved plan records no digest of them.
    pub passphrase_variables: BTreeSet<String>,
}

impl Encryptions {
    /// Nothing configured: both in plaintext.
    pub fn none() -> Encryptions {
        Encryptions {
            state: Arc::new(Encryption::none(Target::State)),
            plan: Arc::new(Encryption::none(Target::Plan)),
            passphrase_variables: BTreeSet::new(),
        }
    }
}

/// The key management services key providers call, as the binary wires them.
#[derive(Clone, Default)]
pub struct KeyServices {
    /// What `key_provider "alicloud_kms"` blocks call (Alibaba Cloud KMS, or its sandbox emulation).
    pub alicloud_kms: Option<Arc<dyn DataKeyService>>,
}

/// The encryption the configuration's `encryption` block asks for, with `vars` (resolved variable
/// values) in scope. Every problem of the block is reported; no message holds a passphrase.
pub fn configured(
    config: &Config,
    vars: &BTreeMap<String, Value>,
    services: &KeyServices,
) -> Result<Encryptions, Diagnostics> {
    let Some(block) = &config.settings.encryption else { return Ok(Encryptions::none()) };
    let mut p = Parser {
        diags: Diagnostics::default(),
        vars,
        dir: &config.dir,
        passphrase_variables: BTreeSet::new(),
        services,
    };
    let mut enc = p.block(block);
    enc.passphrase_variables = std::mem::take(&mut p.passphrase_variables);
    if p.diags.has_errors() {
        return Err(p.diags);
    }
    Ok(enc)
}

struct Parser<'a> {
    diags: Diagnostics,
    vars: &'a BTreeMap<String, Value>,
    dir: &'a std::path::Path,
    passphrase_variables: BTreeSet<String>,
    services: &'a KeyServices,
}

fn error(message: impl Into<String>, def: &NestedBlockDef, help: &str) -> Diagnostic {
    Diagnostic::error(CODE, message).with_span(def.span.clone(), "here").with_help(help.to_owned())
}

impl Parser<'_> {
    fn block(&mut self, block: &NestedBlockDef) -> Encryptions {
        for (name, a) in &block.body.attrs {
            self.unexpected_attr(name, a, &[]);
        }
        let mut providers: BTreeMap<String, KeyProvider> = BTreeMap::new();
        let mut method_defs: Vec<&NestedBlockDef> = Vec::new();
        let mut targets: Vec<&NestedBlockDef> = Vec::new();
        for b in &block.body.blocks {
            match b.kind.as_str() {
                "key_provider" => {
                    if let Some((addr, key)) = self.key_provider(b) {
                        providers.insert(addr, key);
                    }
                }
                "method" => method_defs.push(b),
                "state" | "plan" => targets.push(b),
                other => self.diags.push(error(
                    format!("unsupported block \"{other}\" in encryption"),
                    b,
                    "an encryption block holds key_provider, method, state and plan blocks",
                )),
            }
        }
        let mut methods: BTreeMap<String, Method> = BTreeMap::new();
        for b in method_defs {
            if let Some((addr, m)) = self.method(b, &providers) {
                methods.insert(addr, m);
            }
        }
        let mut out = Encryptions::none();
        let mut seen = Vec::new();
        for b in targets {
            if seen.contains(&b.kind) {
                self.diags.push(error(format!("duplicate {} block", b.kind), b, "give it once"));
                continue;
            }
            seen.push(b.kind.clone());
            let target = if b.kind == "state" { Target::State } else { Target::Plan };
            if let Some((method, fallbacks)) = self.chain(b, &methods) {
                let enc = Arc::new(Encryption::new(target, Some(method), fallbacks));
                match target {
                    Target::State => out.state = enc,
                    Target::Plan => out.plan = enc,
                }
            }
        }
        out
    }

    fn labels<'b>(&mut self, b: &'b NestedBlockDef) -> Option<(&'b str, &'b str)> {
        match b.labels.as_slice() {
            [ty, name] if is_name(ty) && is_name(name) => Some((ty, name)),
            _ => {
                self.diags.push(error(
                    format!("{} needs two labels, a type and a name ([a-zA-Z_0-9-]+)", b.kind),
                    b,
                    "e.g. key_provider \"pbkdf2\" \"main\" or method \"aes_gcm\" \"main\"",
                ));
                None
            }
        }
    }

    fn key_provider(&mut self, b: &NestedBlockDef) -> Option<(String, KeyProvider)> {
        let (ty, name) = self.labels(b)?;
        match ty {
            "pbkdf2" => self.pbkdf2(b, name).map(|(a, k)| (a, k.into())),
            "alicloud_kms" => self.alicloud_kms(b, name).map(|(a, k)| (a, k.into())),
            _ => {
                self.diags.push(error(
                    format!("unsupported key provider type \"{ty}\""),
                    b,
                    "meshform has the key providers \"pbkdf2\" (a passphrase) and \
                     \"alicloud_kms\" (Alibaba Cloud KMS)",
                ));
                None
            }
        }
    }

    /// `key_provider "alicloud_kms" "NAME" { kms_key_id, region, key_spec?, endpoint?,
    /// encryption_context? }`.
    fn alicloud_kms(&mut self, b: &NestedBlockDef, name: &str) -> Option<(String, KmsKey)> {
        const ARGS: &[&str] =
            &["kms_key_id", "key_spec", "region", "endpoint", "encryption_context"];
        self.no_blocks(&b.body);
        let mut strings: BTreeMap<&str, String> = BTreeMap::new();
        let mut context = BTreeMap::new();
        let mut ok = true;
        for (attr, a) in &b.body.attrs {
            match attr.as_str() {
                "kms_key_id" | "key_spec" | "region" | "endpoint" => {
                    let Some(v) = self.eval(a) else {
                        ok = false;
                        continue;
                    };
                    match self.string(a, &v) {
                        Some(s) if !s.trim().is_empty() => {
                            let key = ARGS.iter().find(|k| **k == attr.as_str()).copied();
                            strings.insert(key.unwrap_or("kms_key_id"), s);
                        }
                        Some(_) => {
                            ok = false;
                            self.diags.push(attr_error(a, format!("{attr} must not be empty")));
                        }
                        None => ok = false,
                    }
                }
                "encryption_context" => match self.eval(a).as_ref().map(Value::unmarked) {
                    Some(Value::Map(m)) => {
                        for (k, v) in m {
                            match v.unmarked() {
                                Value::String(s) => {
                                    context.insert(k.clone(), s.clone());
                                }
                                other => {
                                    ok = false;
                                    self.diags.push(attr_error(
                                        a,
                                        format!(
                                            "encryption_context.{k} must be a string, got {}",
                                            other.kind()
                                        ),
                                    ));
                                }
                            }
                        }
                    }
                    Some(other) => {
                        ok = false;
                        self.diags.push(attr_error(
                            a,
                            format!(
                                "encryption_context must be a map of strings, got {}",
                                other.kind()
                            ),
                        ));
                    }
                    None => ok = false,
                },
                _ => self.unexpected_attr(attr, a, ARGS),
            }
        }
        for required in ["kms_key_id", "region"] {
            if !strings.contains_key(required) && !b.body.attrs.contains_key(required) {
                ok = false;
                self.diags.push(error(
                    format!("key_provider.alicloud_kms.{name} has no {required}"),
                    b,
                    "set kms_key_id (a key id or alias/NAME) and region (e.g. \"cn-hangzhou\")",
                ));
            }
        }
        let key_spec = strings.remove("key_spec").unwrap_or_else(|| "AES_256".to_owned());
        if key_spec != "AES_256" {
            ok = false;
            let a = &b.body.attrs["key_spec"];
            self.diags.push(
                attr_error(a, format!("key_spec \"{key_spec}\" is not supported"))
                    .with_help("AES-256-GCM takes a 256-bit data key: key_spec = \"AES_256\""),
            );
        }
        let Some(service) = self.services.alicloud_kms.clone() else {
            self.diags.push(error(
                format!("key_provider.alicloud_kms.{name}: this program has no KMS client"),
                b,
                "use the meshform command, which calls Alibaba Cloud KMS",
            ));
            return None;
        };
        if !ok {
            return None;
        }
        let settings = KmsKeySettings {
            name: name.to_owned(),
            key_id: strings.remove("kms_key_id")?,
            key_spec,
            region: strings.remove("region")?,
            endpoint: strings.remove("endpoint"),
            encryption_context: context,
        };
        Some((format!("key_provider.alicloud_kms.{name}"), KmsKey::new(settings, service)))
    }

    /// `key_provider "pbkdf2" "NAME" { passphrase, iterations? }`.
    fn pbkdf2(&mut self, b: &NestedBlockDef, name: &str) -> Option<(String, Pbkdf2Key)> {
        self.no_blocks(&b.body);
        let mut passphrase = None;
        let mut iterations = DEFAULT_ITERATIONS;
        for (attr, a) in &b.body.attrs {
            match attr.as_str() {
                "passphrase" => match self.passphrase_refs(a) {
                    Some(v) if v.is_sensitive() => passphrase = self.string(a, &v),
                    Some(_) => self.diags.push(
                        attr_error(a, "the passphrase must come from a sensitive variable")
                            .with_help(
                                "declare `variable \"NAME\" { sensitive = true }`, set passphrase \
                                 = var.NAME and give it through MESHFORM_VAR_NAME, so that it is \
                                 never shown nor saved in a plan file",
                            ),
                    ),
                    None => {}
                },
                "iterations" => {
                    let n = self.eval(a).and_then(|v| v.as_number().and_then(|n| n.as_u64()));
                    match n.and_then(|n| u32::try_from(n).ok()) {
                        Some(n) if (MIN_ITERATIONS..=50_000_000).contains(&n) => iterations = n,
                        _ => self.diags.push(attr_error(
                            a,
                            format!("iterations must be a whole number from {MIN_ITERATIONS} to 50000000"),
                        )),
                    }
                }
                _ => self.unexpected_attr(attr, a, &["passphrase", "iterations"]),
            }
        }
        let Some(passphrase) = passphrase else {
            self.diags.push(error(
                format!("key_provider.pbkdf2.{name} has no passphrase"),
                b,
                "set passphrase = var.NAME and give the variable through MESHFORM_VAR_NAME",
            ));
            return None;
        };
        match Pbkdf2Key::new(name, &passphrase, iterations) {
            Ok(k) => Some((format!("key_provider.pbkdf2.{name}"), k)),
            Err(e) => {
                self.diags.push(error(
                    e.to_string(),
                    b,
                    "use a passphrase of at least 16 characters",
                ));
                None
            }
        }
    }

    fn method(
        &mut self,
        b: &NestedBlockDef,
        providers: &BTreeMap<String, KeyProvider>,
    ) -> Option<(String, Method)> {
        let (ty, name) = self.labels(b)?;
        self.no_blocks(&b.body);
        let addr = format!("method.{ty}.{name}");
        match ty {
            "unencrypted" => {
                for (attr, a) in &b.body.attrs {
                    self.unexpected_attr(attr, a, &[]);
                }
                Some((addr, Method::Unencrypted))
            }
            "aes_gcm" => {
                let mut key = None;
                for (attr, a) in &b.body.attrs {
                    if attr != "keys" {
                        self.unexpected_attr(attr, a, &["keys"]);
                        continue;
                    }
                    let Some(r) = self.reference(a) else { continue };
                    match providers.get(&r) {
                        Some(k) => key = Some(k.clone()),
                        None => self.diags.push(attr_error(
                            a,
                            format!("Reference to undeclared key provider: {r}"),
                        )),
                    }
                }
                match key {
                    Some(k) => Some((addr, Method::AesGcm(k))),
                    None => {
                        if !b.body.attrs.contains_key("keys") {
                            self.diags.push(error(
                                format!("{addr} has no keys"),
                                b,
                                "set keys = key_provider.pbkdf2.NAME (or key_provider.alicloud_kms.NAME)",
                            ));
                        }
                        None
                    }
                }
            }
            other => {
                self.diags.push(error(
                    format!("unsupported encryption method type \"{other}\""),
                    b,
                    "meshform has the methods \"aes_gcm\" and \"unencrypted\"",
                ));
                None
            }
        }
    }

    /// A `state`/`plan` block: its method, then its fallbacks (nested), checking `enforced`.
    fn chain(
        &mut self,
        b: &NestedBlockDef,
        methods: &BTreeMap<String, Method>,
    ) -> Option<(Method, Vec<Method>)> {
        let mut chain = Vec::new();
        let mut enforced = false;
        let mut current = Some(b);
        let mut ok = true;
        while let Some(block) = current.take() {
            let mut method = None;
            for (attr, a) in &block.body.attrs {
                match attr.as_str() {
                    "method" => {
                        let Some(r) = self.reference(a) else {
                            ok = false;
                            continue;
                        };
                        match methods.get(&r) {
                            Some(m) => method = Some(m.clone()),
                            None => {
                                ok = false;
                                let message = if r.starts_with("method.") {
                                    format!("Reference to undeclared encryption method: {r}")
                                } else {
                                    format!("Invalid encryption method identifier: {r}")
                                };
                                self.diags.push(attr_error(a, message));
                            }
                        }
                    }
                    "enforced" if std::ptr::eq(block, b) => {
                        match self.eval(a).as_ref().and_then(|v| v.unmarked().as_bool()) {
                            Some(v) => enforced = v,
                            None => {
                                self.diags.push(attr_error(a, "enforced must be true or false"))
                            }
                        }
                    }
                    _ => self.unexpected_attr(attr, a, &["method", "enforced", "fallback"]),
                }
            }
            match method {
                Some(m) => chain.push(m),
                None if ok && !block.body.attrs.contains_key("method") => {
                    self.diags.push(error(
                        format!("{} has no method", block.kind),
                        block,
                        "set method = method.TYPE.NAME",
                    ));
                    ok = false;
                }
                None => ok = false,
            }
            for nested in &block.body.blocks {
                if nested.kind == "fallback" && current.is_none() {
                    current = Some(nested);
                } else {
                    self.diags.push(error(
                        format!("unexpected block \"{}\"", nested.kind),
                        nested,
                        "a state or plan block takes one fallback block (which may nest another)",
                    ));
                }
            }
        }
        if enforced && chain.iter().any(|m| matches!(m, Method::Unencrypted)) {
            self.diags.push(error(
                "Unencrypted method is forbidden",
                b,
                "this block has enforced = true: remove the unencrypted method from its chain",
            ));
            return None;
        }
        if !ok || chain.is_empty() {
            return None;
        }
        let method = chain.remove(0);
        Some((method, chain))
    }

    /// Evaluates a passphrase, remembering the variables it reads.
    fn passphrase_refs(&mut self, a: &AttrDef) -> Option<Value> {
        let mut unset = false;
        for r in meshform_config::refs::references(&a.expr.node, &a.expr.span.file) {
            if let meshform_config::refs::Target::Var(name) = r.target {
                if self.vars.get(&name).is_none_or(|v| v.is_null()) {
                    unset = true;
                    self.diags.push(
                        attr_error(a, format!("the passphrase variable \"{name}\" has no value"))
                            .with_help(format!(
                                "set MESHFORM_VAR_{name} (or a variables file): the encryption \
                                 block is read before anything else and never from --var"
                            )),
                    );
                }
                self.passphrase_variables.insert(name);
            }
        }
        if unset {
            return None;
        }
        self.eval(a)
    }

    fn no_blocks(&mut self, body: &BlockBody) {
        for nested in &body.blocks {
            self.diags.push(error(
                format!("unexpected block \"{}\"", nested.kind),
                nested,
                "this block takes arguments only",
            ));
        }
    }

    fn unexpected_attr(&mut self, name: &str, a: &AttrDef, allowed: &[&str]) {
        let help = if allowed.is_empty() {
            "this block takes no arguments".to_owned()
        } else {
            format!("arguments here: {}", allowed.join(", "))
        };
        self.diags.push(
            Diagnostic::error(CODE, format!("unexpected argument \"{name}\""))
                .with_span(a.name_span.clone(), "not an argument of this block")
                .with_help(help),
        );
    }

    /// Evaluates an argument with the variables, key providers and methods in scope (the latter
    /// two evaluate to their addresses).
    fn eval(&mut self, a: &AttrDef) -> Option<Value> {
        let scope = MapScope(BTreeMap::from([
            ("var".to_owned(), Value::Map(self.vars.clone())),
            ("key_provider".to_owned(), Value::Map(BTreeMap::new())),
            ("method".to_owned(), Value::Map(BTreeMap::new())),
        ]));
        match Evaluator::new(&scope, &a.expr.span.file, self.dir).eval(&a.expr.node) {
            Ok(v) if !v.contains_unknown() => Some(v),
            Ok(_) => {
                self.diags.push(attr_error(a, "the value is not known before the run"));
                None
            }
            Err(d) => {
                self.diags.push(d.with_help(
                    "encryption settings are read before anything else: use constants and \
                     variables (give a passphrase through MESHFORM_VAR_NAME or a variables file)",
                ));
                None
            }
        }
    }

    fn string(&mut self, a: &AttrDef, v: &Value) -> Option<String> {
        match v.unmarked() {
            Value::String(s) => Some(s.clone()),
            other => {
                let kind = other.kind();
                self.diags.push(attr_error(a, format!("must be a string, got {kind}")));
                None
            }
        }
    }

    /// A reference such as `key_provider.pbkdf2.main` or `method.aes_gcm.main`, as text.
    fn reference(&mut self, a: &AttrDef) -> Option<String> {
        let text = a.expr.span.text().trim().to_owned();
        let parts: Vec<&str> = text.split('.').collect();
        let valid = parts.len() == 3
            && matches!(parts[0], "key_provider" | "method")
            && parts[1..].iter().all(|p| is_name(p));
        if valid {
            Some(text)
        } else {
            self.diags.push(attr_error(
                a,
                format!("Invalid encryption method identifier: {text} is not TYPE.KIND.NAME"),
            ));
            None
        }
    }
}

fn attr_error(a: &AttrDef, message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(CODE, message).with_span(a.expr.span.clone(), "here")
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshform_core::SourceFile;

    const PASS: &str = "sixteen+ characters long";

    fn parse(text: &str, vars: &[(&str, &str)]) -> Result<Encryptions, Vec<String>> {
        let mut config = Config::default();
        let file = SourceFile::new("main.mf.hcl", text);
        let d = meshform_config::load::load_source(&mut config, &file);
        assert!(!d.has_errors(), "{:?}", d.iter().map(|d| d.summary.clone()).collect::<Vec<_>>());
        let vars = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::string(*v).sensitive()))
            .collect::<BTreeMap<_, _>>();
        configured(&config, &vars, &KeyServices::default())
            .map_err(|d| d.iter().map(|d| d.summary.clone()).collect())
    }

    fn block(inner: &str) -> String {
        format!(
            "meshform {{\n encryption {{\n  key_provider \"pbkdf2\" \"main\" {{\n   passphrase = \
             var.pass\n   iterations = 200000\n  }}\n  method \"aes_gcm\" \"main\" {{ keys = \
             key_provider.pbkdf2.main }}\n  method \"unencrypted\" \"migrate\" {{}}\n{inner}\n }}\n}}\n"
        )
    }

    #[test]
    fn no_block_means_plaintext_for_both() {
        let e = parse("meshform {}\n", &[]).expect("valid");
        assert!(!e.state.encrypts() && !e.plan.encrypts());
    }

    #[test]
    fn state_and_plan_methods_with_a_fallback_chain() {
        let text = block(
            "state {\n method = method.aes_gcm.main\n fallback { method = \
             method.unencrypted.migrate }\n}\nplan { method = method.aes_gcm.main }",
        );
        let e = parse(&text, &[("pass", PASS)]).expect("valid");
        assert!(e.state.encrypts() && e.plan.encrypts());
        // The fallback lets the state read plaintext; the plan chain does not.
        assert!(e.state.decrypt(b"{}").is_ok());
        assert!(e.plan.decrypt(b"{}").is_err());
        let sealed = e.state.encrypt(b"{}", None, None).expect("encrypted");
        assert_eq!(e.state.decrypt(&sealed).expect("round trip").plaintext, b"{}");
        assert!(!format!("{e:?}").contains(PASS), "Debug shows no passphrase");
        assert_eq!(e.passphrase_variables, BTreeSet::from(["pass".to_owned()]));
    }

    #[test]
    fn errors_are_reported_without_the_passphrase() {
        let cases: &[(&str, &str)] = &[
            ("state { method = method.aes_gcm.nope }", "Reference to undeclared encryption method"),
            ("state { method = aes_gcm.main }", "Invalid encryption method identifier"),
            (
                "state {\n method = method.aes_gcm.main\n enforced = true\n fallback { method = \
                 method.unencrypted.migrate }\n}",
                "Unencrypted method is forbidden",
            ),
            ("state {}", "state has no method"),
            ("method \"rot13\" \"x\" {}", "unsupported encryption method type"),
            ("key_provider \"aws_kms\" \"x\" {}", "unsupported key provider type"),
            (
                "key_provider \"alicloud_kms\" \"k\" { region = \"cn-hangzhou\" }",
                "key_provider.alicloud_kms.k has no kms_key_id",
            ),
            (
                "key_provider \"alicloud_kms\" \"k\" {\n kms_key_id = \"alias/x\"\n region = \
                 \"r\"\n key_spec = \"AES_128\"\n}",
                "key_spec \"AES_128\" is not supported",
            ),
        ];
        for (inner, want) in cases {
            let got = parse(&block(inner), &[("pass", PASS)]).expect_err(inner);
            assert!(got.iter().any(|m| m.contains(want)), "{inner}: {got:?}");
            assert!(got.iter().all(|m| !m.contains(PASS)), "{got:?}");
        }
        let short = parse(&block("state { method = method.aes_gcm.main }"), &[("pass", "short")]);
        assert!(short.expect_err("short").iter().any(|m| m.contains("shorter than 16")));
        let literal = block("state { method = method.aes_gcm.main }")
            .replace("var.pass", &format!("\"{PASS}\""));
        let got = parse(&literal, &[]).expect_err("a literal passphrase");
        assert!(got.iter().any(|m| m.contains("sensitive variable")), "{got:?}");
        let missing = parse(&block("state { method = method.aes_gcm.main }"), &[]);
        let got = missing.expect_err("an unset variable is an error");
        assert!(got.iter().any(|m| m.contains("\"pass\" has no value")), "{got:?}");
        let low = block("").replace("200000", "1000");
        assert!(parse(&low, &[("pass", PASS)])
            .expect_err("low")
            .iter()
            .any(|m| m.contains("iterations")));
    }

    /// A KMS that knows no key: enough to see which key a configuration asks for.
    struct NoKeys;

    impl DataKeyService for NoKeys {
        fn generate_data_key(
            &self,
            key: &KmsKeySettings,
        ) -> Result<
            meshform_state::encryption::GeneratedDataKey,
            meshform_state::encryption::KmsError,
        > {
            Err(meshform_state::encryption::KmsError {
                action: "GenerateDataKey".into(),
                key_id: format!("{} in {} {:?}", key.key_id, key.region, key.encryption_context),
                code: "Forbidden.KeyNotFound".into(),
                message: "The specified Key is not found.".into(),
                request_id: None,
            })
        }

        fn decrypt_data_key(
            &self,
            _: &KmsKeySettings,
            _: &str,
            _: &BTreeMap<String, String>,
        ) -> Result<meshform_state::encryption::DataKey, meshform_state::encryption::KmsError>
        {
            unreachable!("nothing is read in these tests")
        }
    }

    #[test]
    fn a_kms_key_provider_takes_its_settings_from_constants_and_variables() {
        let text = "meshform {\n encryption {\n  key_provider \"alicloud_kms\" \"kms\" {\n   \
                    kms_key_id = var.key\n   region = \"cn-hangzhou\"\n   encryption_context = \
                    { purpose = \"state\" }\n  }\n  method \"aes_gcm\" \"kms\" { keys = \
                    key_provider.alicloud_kms.kms }\n  state { method = method.aes_gcm.kms }\n \
                    }\n}\n";
        let mut config = Config::default();
        let file = SourceFile::new("main.mf.hcl", text);
        assert!(!meshform_config::load::load_source(&mut config, &file).has_errors());
        let vars = BTreeMap::from([("key".to_owned(), Value::string("alias/meshform-state"))]);
        let none = configured(&config, &vars, &KeyServices::default()).expect_err("no client");
        assert!(none.iter().any(|d| d.summary.contains("has no KMS client")));
        let services = KeyServices { alicloud_kms: Some(Arc::new(NoKeys)) };
        let e = configured(&config, &vars, &services).expect("valid");
        assert!(e.state.encrypts() && !e.plan.encrypts());
        let m = e.state.encrypt(b"{}", None, None).expect_err("no such key").to_string();
        assert!(
            m.contains("key_provider.alicloud_kms.kms")
                && m.contains("alias/meshform-state in cn-hangzhou {\"purpose\": \"state\"}")
                && m.contains("Forbidden.KeyNotFound"),
            "{m}"
        );
    }

    #[test]
    fn two_encryption_blocks_are_refused() {
        let mut config = Config::default();
        let text = "meshform {\n encryption {}\n encryption {}\n}\n";
        let d = meshform_config::load::load_source(&mut config, &SourceFile::new("m.mf.hcl", text));
        assert!(d.iter().any(|d| d.summary == "Duplicate encryption configuration"));
    }
}
