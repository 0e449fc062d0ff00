app "api" {
  cmd = "exec ./api"

  helth_check {
    path = "/health"
  }
}
