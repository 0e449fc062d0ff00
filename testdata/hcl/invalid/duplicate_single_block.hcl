app "api" {
  cmd = "exec ./api"

  upgrade_strategy {
    minimum_health_capacity = 0.5
  }

  upgrade_strategy {
    maximum_over_capacity = 0.5
  }

  service {}
  service {}
}
