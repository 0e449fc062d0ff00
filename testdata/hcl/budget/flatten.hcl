locals {
  l = range(1000)
  x = flatten([for i in local.l : [for j in local.l : j]])
}
