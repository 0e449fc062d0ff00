app "api" {
  cmd = "exec ./api"

  backoff {
    backoff_seconds          = -1
    backoff_factor           = 0.5
    max_launch_delay_seconds = -300
  }

  task_kill_grace_period_seconds = -5
}
