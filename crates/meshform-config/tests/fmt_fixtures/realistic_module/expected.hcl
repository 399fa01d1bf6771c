terraform {
  required_version = ">= 1.5"
  backend "s3" {
    bucket = "state"
    key    = "network/terraform.tfstate"
    region = "eu-west-1"
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project   = "mesh"
      ManagedBy = "meshform"
    }
  }
}

/*
 * Networking
 */
resource "aws_vpc" "main" {
  cidr_block         = var.cidr # the VPC range
  enable_dns_support = true     # needed for endpoints
  tags = merge(local.tags, {
    Name = "main"
  })
}

resource "aws_subnet" "private" {
  for_each          = { for idx, az in var.azs : az => idx }
  vpc_id            = aws_vpc.main.id
  cidr_block        = cidrsubnet(var.cidr, 8, each.value)
  availability_zone = each.key

  lifecycle {
    ignore_changes = [tags["LastUpdated"]]
  }
}

resource "aws_security_group" "web" {
  name = "web"

  dynamic "ingress" {
    for_each = var.ports
    content {
      from_port   = ingress.value
      to_port     = ingress.value
      protocol    = "tcp"
      cidr_blocks = ["0.0.0.0/0"]
    }
  }
}

resource "aws_iam_policy" "read" {
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Action   = ["s3:GetObject"]
      Effect   = "Allow"
      Resource = "*"
    }]
  })
}

output "subnet_ids" {
  description = "Private subnet ids"
  value       = [for s in aws_subnet.private : s.id]
  sensitive   = false
}
