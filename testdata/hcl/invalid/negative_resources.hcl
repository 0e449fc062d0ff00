app "api" {
  cmd       = "exec ./api"
  instances = -2
  cpus      = -1
  mem       = -128
  disk      = -0.5
  gpus      = -1
}
