variable "a" {
  type    = string
  default = "x"
}

resource "r" "n" {
  value = {
    k      = "v"
    longer = "w"
  }
  sum = 1 + 2 # tabbed
}
