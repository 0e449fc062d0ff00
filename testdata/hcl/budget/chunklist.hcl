locals {
  l = flatten([for i in range(60) : range(1000)])
  x = chunklist(local.l, 1)
}
