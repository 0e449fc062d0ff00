locals {
  b = local.c
  a = "${local.b}-x"
  c = [local.a]
  d = local.d
  e = local.a
}

app "api" {
  cmd = local.e
}
