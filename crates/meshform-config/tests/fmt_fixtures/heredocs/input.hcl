resource "local_file" "script" {
      content = <<EOT
#!/bin/sh
  echo "hello   "   
	tab-indented line
EOT
    filename = "script.sh"
policy = <<-POLICY
    {
      "Version": "2012-10-17"
    }
    POLICY
  user_data = templatefile("x.tpl", {
        body = <<EOF
   ${var.name}
       EOF
  })
  list = [<<A
a
A
, "b"]
}

output "x" {
value = <<EOT
literal ${ "interp" } and %{ if true }directive%{ endif }
EOT
}
