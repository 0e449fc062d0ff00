locals {
  common_env = { LOG = "info" }
}

app "api" {
  cmd = "exec ./api"
  env = merge(local.comon_env, { A = "b" })
}
