locals {
  l = [for a in range(300) : [for b in range(300) : b]]
  x = [for i in range(1000) : local.l == local.l]
}
