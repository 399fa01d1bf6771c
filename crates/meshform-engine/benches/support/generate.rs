//! Generated configurations for the planning benchmarks, shared by `benches/plan.rs` and
//! `examples/plan_peak.rs`.
//!
//! Two shapes:
//!
//! - [`write_resources`]: `n` `local_file` instances in groups of ten (six single resources and one
//!   `for_each` over a four-entry map variable). Every group has a local object built with `format`,
//!   `merge` and string templates from variables; every resource reads its group's local and the
//!   attributes of two or three earlier resources (the previous one, one pseudo-randomly far back, and
//!   an instance of the previous group's `for_each`), through `join`, `jsonencode`, `format` and
//!   templates. One output per ten groups. Files of 500 instances each.
//! - [`write_locals_chain`]: `locals` objects each built from the one before it (and one halfway
//!   back), and outputs reading every tenth of them.
//! - [`write_shared_locals`]: that chain, and resources that each read the end of it and one other
//!   local: the shape where finding each resource's dependencies through locals can cost the length
//!   of the chain per resource.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use meshform_engine::ops::Workspace;
use meshform_provider::Registry;
use meshform_provider_local::LocalProvider;
use meshform_state::LocalStore;

/// Instances per group: six single resources and a four-key `for_each`.
const GROUP: usize = 10;
const SINGLES: usize = 6;
/// Groups per file (500 instances).
const GROUPS_PER_FILE: usize = 50;

const VARIABLES: &str = r#"variable "prefix" {
  type    = string
  default = "out"
}

variable "env" {
  type    = string
  default = "bench"
}

variable "regions" {
  type = map(string)
  default = {
    eu = "eu-west-1"
    us = "us-east-1"
    ap = "ap-south-1"
    sa = "sa-east-1"
  }
}

variable "owners" {
  type    = list(string)
  default = ["team-a", "team-b", "team-c"]
}

variable "common_tags" {
  type = map(string)
  default = {
    managed_by = "meshform"
    project    = "bench"
  }
}
"#;

/// A deterministic earlier index in `0..i` (for `i > 0`), spread over the whole range.
fn far_back(i: usize) -> usize {
    (i.wrapping_mul(2_654_435_761) >> 7) % i
}

fn write_group(out: &mut String, g: usize) {
    let first = g * SINGLES;
    // The group's local: an object from variables, through format, a template and merge.
    let _ = writeln!(
        out,
        r#"locals {{
  g{g} = {{
    name   = format("svc-%05d", {g})
    prefix = "${{var.prefix}}/${{var.env}}/g{shard}"
    tags   = merge(var.common_tags, {{ group = "g{g}", owner = var.owners[{owner}] }})
  }}
}}
"#,
        shard = g % 16,
        owner = g % 3,
    );
    for i in first..first + SINGLES {
        let mut refs = vec![format!("local.g{g}.name")];
        if i > 0 {
            refs.push(format!("local_file.r{}.id", i - 1));
            refs.push(format!("local_file.r{}.content_sha256", far_back(i)));
        }
        if i == first && g > 0 {
            refs.push(format!("local_file.fe{}[\"eu\"].id", g - 1));
        }
        refs.push(format!("jsonencode(local.g{g}.tags)"));
        let _ = writeln!(
            out,
            r#"resource "local_file" "r{i}" {{
  filename        = "${{local.g{g}.prefix}}/r{i}.txt"
  content         = join("\n", [{refs}])
  file_permission = "0640"
}}
"#,
            refs = refs.join(", "),
        );
    }
    let _ = writeln!(
        out,
        r#"resource "local_file" "fe{g}" {{
  for_each = var.regions
  filename = format("%s/%s/fe{g}.txt", local.g{g}.prefix, each.key)
  content  = "${{each.value}}:${{local_file.r{first}.id}}:${{upper(local.g{g}.name)}}"
}}
"#
    );
    if g.is_multiple_of(10) {
        let _ = writeln!(
            out,
            r#"output "o{g}" {{
  value = {{
    id    = local_file.r{first}.id
    sha   = local_file.r{first}.content_sha256
    files = [for k, f in local_file.fe{g} : f.filename]
  }}
}}
"#
        );
    }
}

/// Writes a configuration of `n` resource instances (`n` a multiple of ten) into `dir`.
pub fn write_resources(dir: &Path, n: usize) {
    assert!(n.is_multiple_of(GROUP), "the resource count must be a multiple of {GROUP}");
    std::fs::write(dir.join("variables.hcl"), VARIABLES).expect("write variables.hcl");
    let groups = n / GROUP;
    for (file, start) in (0..groups).step_by(GROUPS_PER_FILE).enumerate() {
        let mut out = String::new();
        for g in start..(start + GROUPS_PER_FILE).min(groups) {
            write_group(&mut out, g);
        }
        std::fs::write(dir.join(format!("resources_{file:03}.hcl")), out).expect("write resources");
    }
}

/// Writes `locals` chained objects and `outputs` outputs into `dir`.
pub fn write_locals_chain(dir: &Path, locals: usize, outputs: usize) {
    let mut out = String::from(
        r#"variable "seed" {
  type    = string
  default = "seed"
}

locals {
  base = { project = "bench", env = var.seed }
  c0 = {
    n    = 0
    name = format("c-%04d", 0)
    path = var.seed
    tags = merge(local.base, { idx = "0" })
  }
}
"#,
    );
    for i in 1..locals {
        let _ = writeln!(
            out,
            r#"locals {{
  c{i} = {{
    n    = local.c{p}.n + 1
    name = format("c-%04d", local.c{p}.n + 1)
    path = "${{local.c{h}.name}}/${{local.c{p}.name}}"
    tags = merge(local.base, {{ idx = "{i}", parent = local.c{p}.name }})
  }}
}}
"#,
            p = i - 1,
            h = i / 2,
        );
    }
    let step = (locals / outputs.max(1)).max(1);
    for j in 0..outputs {
        let a = (j * step).min(locals - 1);
        let b = (j * step + step - 1).min(locals - 1);
        let _ = writeln!(
            out,
            r#"output "o{j}" {{
  value = "${{local.c{b}.path}}:${{join(",", values(local.c{a}.tags))}}"
}}
"#
        );
    }
    std::fs::write(dir.join("locals.hcl"), out).expect("write locals.hcl");
}

/// Writes `locals` chained locals (no outputs) and `resources` resources reading them into `dir`.
pub fn write_shared_locals(dir: &Path, locals: usize, resources: usize) {
    write_locals_chain(dir, locals, 0);
    let last = locals - 1;
    let mut out = String::new();
    for i in 0..resources {
        let _ = writeln!(
            out,
            r#"resource "local_file" "s{i}" {{
  filename = "s/${{local.c{last}.name}}/s{i}.txt"
  content  = local.c{other}.path
}}
"#,
            other = (i * 7) % locals,
        );
    }
    std::fs::write(dir.join("resources.hcl"), out).expect("write resources.hcl");
}

/// A workspace over `dir` with the real `local` provider and a (missing, so empty) local state file.
pub fn workspace(dir: &Path) -> Workspace {
    let mut registry = Registry::new();
    registry.register(Arc::new(LocalProvider::new(dir)));
    Workspace {
        dir: dir.to_path_buf(),
        registry,
        store: Arc::new(LocalStore::new(dir.join("meshform.state.json"))),
    }
}
