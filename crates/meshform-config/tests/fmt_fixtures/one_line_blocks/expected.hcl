resource "a" "b" {
  lifecycle {}
  timeouts { create = "5m" }
  dynamic "x" {
    for_each = []
    content {}
  }
}
empty "block" {}
empty_spaced "block" {}
provisioner "local-exec" { command = "echo hi" }
