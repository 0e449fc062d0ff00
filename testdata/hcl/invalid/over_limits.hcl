app "api" {
  cmd       = "exec ./api"
  instances = 2000000000
  cpus      = 5000
  mem       = 1e12

  health_check {
    protocol                 = "TCP"
    port                     = 8080
    interval_seconds         = 100000
    max_consecutive_failures = 1000000
  }

  backoff {
    backoff_factor = 1000
  }
}
