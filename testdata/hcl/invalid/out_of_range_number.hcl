app "api" {
  cmd       = "exec ./api"
  instances = 1e12
  gpus      = -1e30
}
