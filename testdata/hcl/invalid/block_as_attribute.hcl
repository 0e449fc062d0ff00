app "api" {
  cmd          = "exec ./api"
  health_check = { path = "/health" }
}
