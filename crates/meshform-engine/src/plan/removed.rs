//! `removed` blocks: which objects recorded in the state a plan forgets instead of destroying
//! (`lifecycle { destroy = false }`), and the refusal of a `removed` block whose resource or module
//! is still configured.

use meshform_config::model::Config;
use meshform_core::{Diagnostic, Diagnostics, InstanceAddr, Selector};

/// Whether a `removed` block with `destroy = false` names `addr`'s resource or a module holding it.
pub fn forgets(config: &Config, addr: &InstanceAddr) -> bool {
    config.removed.iter().any(|r| !r.destroy && r.from.0.matches(addr))
}

/// A `removed` block must name something no longer in the configuration.
pub fn check(config: &Config, diags: &mut Diagnostics) {
    // A module's blocks are repeated for each of its instances: one report per block.
    let mut reported = std::collections::BTreeSet::new();
    for r in &config.removed {
        let declared = match &r.from.0 {
            Selector::Resource(p) => config.resources.get(&p.resource).map(|d| d.span.location()),
            Selector::Module(m) => config
                .modules
                .iter()
                .find(|(path, _)| m.contains(path))
                .map(|(_, i)| i.call.span.location()),
        };
        if let Some(at) = declared.filter(|_| reported.insert(r.from.1.location())) {
            diags.push(
                Diagnostic::error(
                    "meshform::config::removed_still_declared",
                    format!("removed {} is still declared at {at}", r.from.0),
                )
                .with_span(r.from.1.clone(), "still in the configuration")
                .with_help("delete its block from the configuration (the removed block says what happens to what it created), or delete the removed block"),
            );
        }
    }
}
