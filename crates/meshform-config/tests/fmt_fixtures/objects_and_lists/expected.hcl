locals {
  tags = {
    Name                    = "web"
    Environment             = "prod"
    "kubernetes.io/cluster" = "owned"
    CostCenter : "42"
  }
  nested = {
    outer = {
      inner = [
        1,
        2,
        3,
      ]
    }
  }
  list_of_objects = [
    {
      name = "a"
      size = 1
    },
    {
      name    = "b"
      enabled = true
    },
  ]
  compact = [{
    name = "c"
  }, {
    name = "dd"
  }]
  call = merge(
    var.a,
    {
      x  = 1
      yy = 2
    },
  )
  inline     = { a = 1, bb = 2 }
  empty_obj  = {}
  empty_list = []
}
