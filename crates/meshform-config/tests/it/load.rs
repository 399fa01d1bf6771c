//! Loading configuration directories: blocks, meta-arguments and their diagnostics.

use std::path::Path;

use meshform_config::load::load_dir;
use meshform_config::model::Repetition;

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write fixture");
}

#[test]
fn loads_every_block_kind() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "main.hcl",
        r#"
meshform { required_version = ">= 0.1" }
variable "names" {
  type    = set(string)
  default = ["a", "b"]
  validation {
    condition     = length(var.names) > 0
    error_message = "give at least one name"
  }
}
locals { prefix = "x" }
provider "local" { alias = "second" }
resource "local_file" "f" {
  for_each = var.names
  filename = "${local.prefix}-${each.key}"
  content  = "hi"
  provider = local.second
  depends_on = [local_file.g]
  lifecycle {
    create_before_destroy = true
    ignore_changes        = [content]
  }
}
resource "local_file" "g" {
  count    = 2
  filename = "g${count.index}"
}
data "local_file" "d" { filename = "x" }
output "o" {
  value     = local_file.g[0].id
  sensitive = true
}
"#,
    );
    let (c, diags) = load_dir(dir.path());
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(c.variables["names"].ty.to_string(), "set(string)");
    assert_eq!(c.variables["names"].validations.len(), 1);
    let f = &c.resources[&"local_file.f".parse::<meshform_core::InstanceAddr>().unwrap().resource];
    assert!(matches!(f.repetition, Repetition::ForEach(_)));
    assert_eq!(f.provider_key(), "local.second");
    assert_eq!(f.depends_on[0].addr.to_string(), "local_file.g");
    assert!(f.lifecycle.create_before_destroy);
    assert_eq!(f.lifecycle.ignore_changes[0].0, "content");
    assert!(f.body.attrs.contains_key("filename") && !f.body.attrs.contains_key("for_each"));
    assert!(c.outputs["o"].sensitive);
    assert_eq!(c.providers["local.second"].alias.as_deref(), Some("second"));
}

#[test]
fn reports_all_errors_with_spans() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.hcl",
        "resource \"local_file\" \"f\" { filename = \"x\" }\nresourse \"x\" \"y\" {}\n",
    );
    write(
        dir.path(),
        "b.hcl",
        "resource \"local_file\" \"f\" { filename = \"y\" }\nvariable \"v\" { tpye = string }\n",
    );
    write(dir.path(), "c.hcl", "locals { a = }\n");
    let (_, diags) = load_dir(dir.path());
    let got: Vec<(String, String)> = diags
        .iter()
        .map(|d| (d.code.clone(), d.span.as_ref().map(|s| s.location()).unwrap_or_default()))
        .collect();
    assert!(
        got.contains(&("meshform::config::unknown_block".into(), "a.hcl:2:1".into())),
        "{got:?}"
    );
    assert!(got.contains(&("meshform::config::duplicate".into(), "b.hcl:1:1".into())), "{got:?}");
    assert!(
        got.contains(&("meshform::config::unsupported_argument".into(), "b.hcl:2:16".into())),
        "{got:?}"
    );
    assert!(
        got.iter().any(|(c, l)| c == "meshform::config::syntax" && l.starts_with("c.hcl:1:")),
        "{got:?}"
    );
    let unknown_block = diags.iter().find(|d| d.code == "meshform::config::unknown_block").unwrap();
    assert_eq!(unknown_block.help.as_deref(), Some("did you mean `resource`?"));
}

/// `moved`, `removed` and `import` each name their own block in an address error, with the
/// block's own example when an address is missing.
#[test]
fn refactoring_blocks_name_themselves_in_address_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "main.hcl",
        "import {\n  to = local_file.f[each.key][0]\n  id = \"x\"\n}\n\nremoved {\n}\n\nmoved {\n  from = local_file.a\n}\n",
    );
    let (_, diags) = load_dir(dir.path());
    let got: Vec<(String, String, String)> = diags
        .iter()
        .map(|d| {
            let at = d.span.as_ref().map(|s| s.location()).unwrap_or_default();
            (d.code.clone(), at, d.summary.clone())
        })
        .collect();
    let has = |code: &str, at: &str, start: &str| {
        got.iter().any(|(c, l, m)| c == code && l == at && m.starts_with(start))
    };
    assert!(
        has("meshform::config::import", "main.hcl:2:8", "import to: invalid address"),
        "{got:?}"
    );
    assert!(has("meshform::config::removed", "main.hcl:6:1", "removed has no from"), "{got:?}");
    assert!(has("meshform::config::moved", "main.hcl:9:1", "moved has no to"), "{got:?}");
    let removed = diags.iter().find(|d| d.code == "meshform::config::removed").unwrap();
    assert!(removed.help.as_deref().is_some_and(|h| h.starts_with("write removed {")));
}
