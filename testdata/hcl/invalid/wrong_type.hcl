app "api" {
  cmd       = "exec ./api"
  instances = "three"
  cpus      = true
  env       = { LOG = ["info"] }
  args      = "--verbose"
}
