resource "aws_instance" "web" {
  ami           = "ami-123456"
  instance_type = "t3.micro"
  count         = 2
  x             = 1

  availability_zone = "eu-west-1a"
  subnet_id         = "subnet-1"
  # comment-only lines break a run
  tags_all = {}
  key_name = "deploy"
}

variable "region" {
  type        = string
  default     = "eu-west-1"
  description = "Region to deploy into"
}

locals {
  a   = 1
  bbb = 2
}
