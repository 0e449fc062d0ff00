locals {
  l = range(1000)
  x = [for a in local.l : [for b in local.l : [for c in local.l : 1]]]
}
