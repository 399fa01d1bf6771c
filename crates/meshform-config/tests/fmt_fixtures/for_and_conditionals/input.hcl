locals {
  upper = [for s in var.list : upper(s) if s != ""]
  by_key = {for k, v in var.map : k => v...}
  multi = [
  for s in var.list :
      upper(s)
        if s != ""
  ]
  obj = {
      for k, v in var.map :
    k => {
  name = v.name
        enabled = v.enabled
    }
  }
  cond = var.enabled ? "yes" : "no"
  multi_cond = (
      var.a == null
    ? "default"
        : var.a
  )
  nested_cond = var.x > 1 ? (var.y < 2 ? "a" : "b") : "c"
  splat = var.list[*].id
  ops = !var.flag && (var.a >= 1 || var.b <= 2)
  template = "${var.a}-%{ if var.b }b%{ else }c%{ endif }"
}
