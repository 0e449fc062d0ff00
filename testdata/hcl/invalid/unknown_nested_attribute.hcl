app "api" {
  cmd = "exec ./api"

  health_check {
    protocol     = "HTTP"
    grace_period = 10
  }
}
