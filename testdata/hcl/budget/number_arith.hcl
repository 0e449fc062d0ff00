locals {
  a = 1e300
  b = local.a * local.a * local.a * local.a
}
