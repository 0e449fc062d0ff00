app "api" {
  cmd       = "exec ./api"
  instances = 1.5

  health_check {
    protocol   = "TCP"
    port_index = 0.5
  }
}
