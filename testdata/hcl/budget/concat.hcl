locals {
  l = flatten([for i in range(90) : range(1000)])
  x = concat(local.l, local.l, local.l, local.l, local.l, local.l, local.l, local.l, local.l, local.l)
}
