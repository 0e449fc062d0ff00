app "api" {
  cmd = "exec ./api"

  unreachable_strategy {
    inactive_after_seconds = 600
    expunge_after_seconds  = 300
  }
}
