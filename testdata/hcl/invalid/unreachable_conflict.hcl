app "api" {
  cmd = "exec ./api"

  unreachable_strategy {
    disabled               = true
    inactive_after_seconds = 60
  }
}
