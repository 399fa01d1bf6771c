//! The plan options a saved plan records (mode, refresh, targets and excludes — module ones
//! included —, replacements) and the options `apply FILE` plans with again.

use super::{PlanFileError, SavedOptions};
use crate::plan::walk::PlanOptions;

/// Resource patterns and module patterns, as `--target`/`--exclude` hold them.
type SplitSelectors = (Vec<meshform_core::AddrPattern>, Vec<meshform_core::ModulePattern>);

impl SavedOptions {
    pub fn from_options(opts: &PlanOptions) -> SavedOptions {
        let strings =
            |v: &[meshform_core::AddrPattern]| v.iter().map(ToString::to_string).collect();
        let with_modules = |v: &[meshform_core::AddrPattern],
                            m: &[meshform_core::ModulePattern]| {
            v.iter().map(ToString::to_string).chain(m.iter().map(ToString::to_string)).collect()
        };
        SavedOptions {
            mode: opts.mode,
            refresh: opts.refresh,
            targets: with_modules(&opts.targets, &opts.module_targets),
            excludes: with_modules(&opts.excludes, &opts.module_excludes),
            replace: strings(&opts.replace),
        }
    }

    /// The options to plan with again (`parallelism` is the caller's).
    pub fn to_options(&self, parallelism: usize) -> Result<PlanOptions, PlanFileError> {
        let parse = |v: &[String]| -> Result<Vec<meshform_core::AddrPattern>, PlanFileError> {
            v.iter()
                .map(|s| {
                    s.parse().map_err(|e| PlanFileError::Damaged(format!("invalid address: {e}")))
                })
                .collect()
        };
        let split = |v: &[String]| -> Result<SplitSelectors, PlanFileError> {
            let mut out = (Vec::new(), Vec::new());
            for s in v {
                match s.parse() {
                    Ok(meshform_core::Selector::Resource(p)) => out.0.push(p),
                    Ok(meshform_core::Selector::Module(m)) => out.1.push(m),
                    Err(e) => return Err(PlanFileError::Damaged(format!("invalid address: {e}"))),
                }
            }
            Ok(out)
        };
        let (targets, module_targets) = split(&self.targets)?;
        let (excludes, module_excludes) = split(&self.excludes)?;
        Ok(PlanOptions {
            mode: self.mode,
            refresh: self.refresh,
            targets,
            excludes,
            replace: parse(&self.replace)?,
            module_targets,
            module_excludes,
            parallelism,
        })
    }
}
