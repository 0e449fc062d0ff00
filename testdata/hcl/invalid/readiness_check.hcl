app "api" {
  cmd = "exec ./api"

  port "http" {}

  readiness_check {
    path             = "/ready"
    interval_seconds = 10
    timeout_seconds  = 10
  }

  readiness_check {
    name                        = "second"
    port_name                   = "http"
    http_status_codes_for_ready = [200, 42]
  }
}
