# A canonical file is left unchanged.

terraform {
  required_version = ">= 1.0"
}

variable "instance_count" {
  type        = number
  default     = 2
  description = "How many instances"
}

resource "aws_instance" "web" {
  count         = var.instance_count
  ami           = data.aws_ami.ubuntu.id
  instance_type = "t3.micro" # cheapest

  tags = {
    Name  = "web-${count.index}"
    Owner = "platform"
  }

  lifecycle {
    create_before_destroy = true
  }
}

output "ids" {
  value = [for i in aws_instance.web : i.id]
}
