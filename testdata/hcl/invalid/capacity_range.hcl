app "api" {
  cmd = "exec ./api"

  upgrade_strategy {
    minimum_health_capacity = 1.5
    maximum_over_capacity   = -0.1
  }
}
