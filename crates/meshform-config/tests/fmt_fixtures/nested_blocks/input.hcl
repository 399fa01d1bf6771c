resource "kubernetes_deployment" "app" {
metadata {
name = "app"
labels = {
app = "app"
}
}
      spec {
    replicas = 3
    template {
  spec {
      container {
image = "nginx:1.25"
        name  = "nginx"
port {
    container_port = 80
    }
}
}
      }
  }
}

terraform {
required_providers {
mesh = {
source = "meshform/mesh"
version = ">= 1.0"
}
}
}
